"""Local servers that alerts are delivered to in tests: an HTTP server that records webhook
posts (Apprise json:// posts {"version", "title", "message", "type"}) and an SMTP server
(aiosmtpd) that records mail. Both on 127.0.0.1; nothing leaves the machine."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


class WebhookRecorder:
    """Records every JSON post; ``stop()`` and ``start()`` again on the same port."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.posts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookRecorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder._lock:
                    recorder.posts.append({"path": self.path, **json.loads(body or b"{}")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def titles(self) -> list[str]:
        with self._lock:
            return [str(p.get("title")) for p in self.posts]

    def find(self, text: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for p in self.posts if text in str(p.get("title"))]


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"


class SmtpRecorder:
    """An SMTP server on 127.0.0.1 that keeps every message."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.box = _Mailbox()
        self._controller = Controller(self.box, hostname="127.0.0.1", port=port)

    def url(self, min_level: str = "") -> str:
        return (f"mailto://127.0.0.1:{self.port}?from=ats@localhost.example"
                f"&to=ops@localhost.example&mode=insecure")

    def start(self) -> SmtpRecorder:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.box.messages]

    def find(self, text: str) -> list[email.message.EmailMessage]:
        return [m for m in self.box.messages if text in str(m["Subject"])]


def text(msg: email.message.EmailMessage) -> str:
    """A message's plain-text body."""
    part = msg.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""

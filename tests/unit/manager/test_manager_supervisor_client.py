"""The manager's supervisord client once supervisord is dead: a plain "unreachable" (OSError),
never the stuck HTTP connection's CannotSendRequest: Request-sent, which `ats-ctl status` once
printed after a kill -9 of supervisord."""

from __future__ import annotations

import http.client
import socket
import tempfile
import threading
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from ats.manager.supervisor import UNREACHABLE_ERRORS, Supervisor


class OneAnswerSupervisord:
    """Answers one getState on a kept-alive connection, then dies when told to (its socket
    file with it), as a supervisord killed between two calls of a long-lived client."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.die = threading.Event()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._server.accept()
        conn.recv(65536)
        body = xmlrpc.client.dumps(({"statecode": 1, "statename": "RUNNING"},),
                                   methodresponse=True).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.die.wait(30)
        self._server.close()
        self.path.unlink()
        conn.close()

    def kill(self) -> None:
        self.die.set()
        self._thread.join(30)


@pytest.fixture
def sock() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ats-", dir="/tmp") as folder:
        yield Path(folder) / "supervisor.sock"


def test_every_call_after_supervisord_died_says_unreachable(sock: Path) -> None:
    supervisord = OneAnswerSupervisord(sock)
    sv = Supervisor(sock)
    assert sv.state() == "RUNNING"  # the client now holds a kept-alive connection
    supervisord.kill()
    errors = []
    for _ in range(3):
        with pytest.raises(UNREACHABLE_ERRORS) as info:
            sv.state()
        errors.append(info.value)
    assert all(isinstance(e, OSError) for e in errors), errors  # EPIPE, then no socket
    assert not any(isinstance(e, http.client.CannotSendRequest) for e in errors)

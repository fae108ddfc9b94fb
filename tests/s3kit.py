"""A local S3 server for ArcticDB on S3: moto's server mode as a subprocess on a free loopback
port, one bucket, and the test credentials in the environment (never in a URI)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
#: moto accepts any credentials; ArcticDB reads these through AWS's chain (aws_auth=true)
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "ats-test", "AWS_SECRET_ACCESS_KEY": "ats-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}
START_SECONDS = 60.0


def moto_server() -> str | None:
    """The moto_server program, or None when moto[server] is not installed."""
    path = BIN / "moto_server"
    return str(path) if path.exists() else shutil.which("moto_server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class S3Server:
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        program = moto_server()
        assert program, "moto_server is missing: `make install` installs moto[server]"
        self.proc = subprocess.Popen([program, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self.proc.poll() is None, "moto_server exited at start"
            try:
                urllib.request.urlopen(self.url, timeout=1).close()
                return self
            except OSError:
                assert time.monotonic() < deadline, "moto_server never answered"
                time.sleep(0.1)

    def bucket(self, name: str | None = None) -> str:
        """A new empty bucket; its name."""
        name = name or f"ats-{uuid.uuid4().hex[:12]}"
        req = urllib.request.Request(f"{self.url}/{name}", method="PUT")
        urllib.request.urlopen(req, timeout=10).close()
        return name

    def uri(self, bucket: str, prefix: str = "") -> str:
        """The ArcticDB URI of ``bucket``, with no credentials (ats adds aws_auth=true)."""
        path = f"&path_prefix={prefix}" if prefix else ""
        return f"s3://127.0.0.1:{bucket}?port={self.port}{path}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


"""The record that an ats.toml passed the schema: its digest, kept in the run folder.

The schema check (``ats.config_schema``) needs jsonschema, about 3 MB in every process that
imports it. Its verdict depends only on the file's bytes and on the code that checks them, so
the first process that finds a file valid (``ats-ctl up``, then the manager) writes the digest
of both, and a process that finds the same digest (every strategy host) skips the check and
never imports jsonschema. A changed file, or changed code, has another digest and is checked.
The checks that look outside the file (key files, S3 credentials) run in every process.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
from pathlib import Path

RECORD = "config.checked"
#: the modules whose code decides the verdict
_CODE = ("config.py", "config_schema.py")


def digest(text: str) -> str:
    h = hashlib.sha256(text.encode())
    here = Path(__file__).parent
    for name in _CODE:
        h.update((here / name).read_bytes())
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        h.update(importlib.metadata.version("jsonschema").encode())
    return h.hexdigest()


def already_checked(run_dir: Path, text: str) -> bool:
    try:
        return (run_dir / RECORD).read_text().strip() == digest(text)
    except OSError:
        return False


def record(run_dir: Path, text: str) -> None:
    """Note that ``text`` passed; only where the run folder exists, and quietly not at all
    when it cannot be written (the next process checks again)."""
    if not run_dir.is_dir():
        return
    tmp = run_dir / f".{RECORD}.{os.getpid()}"
    try:
        tmp.write_text(digest(text) + "\n")
        os.replace(tmp, run_dir / RECORD)
    except OSError:
        tmp.unlink(missing_ok=True)

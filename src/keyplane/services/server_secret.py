"""The server secret: derives idempotent rotations and signs sessions. Never leaves the host."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

from keyplane.config import Settings

FILE_NAME = "secret_key"


def load_server_secret(settings: Settings) -> bytes:
    """``KEYPLANE_SECRET_KEY`` if set (share it between instances), else a data-dir file."""
    if settings.secret_key is not None:
        return hashlib.sha256(settings.secret_key.get_secret_value().encode()).digest()
    path = settings.data_dir / FILE_NAME
    if not path.exists():
        _write_new(path)
    return bytes.fromhex(path.read_text().strip())


def _write_new(path: Path) -> None:
    """Create ``path`` whole or not at all: several processes may start at once (workers).

    The secret is written to a file of this process's own, then linked into place; a link
    fails if the name exists, so one process wins, and no process ever reads a half-written
    file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()

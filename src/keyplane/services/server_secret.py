"""The server secret: derives idempotent rotations and signs sessions. Never leaves the host."""

from __future__ import annotations

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
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: if two processes race on first start, one writes and both read the same value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")

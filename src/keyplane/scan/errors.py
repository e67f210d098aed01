"""What the scanner raises on purpose; the CLI turns it into one stderr line, exit 2."""

from __future__ import annotations

from keyplane.errors import BadRequestError


class ScanError(BadRequestError):
    """The scan could not run as asked: not a git repository, unreadable baseline, ..."""

    code = "scan_failed"

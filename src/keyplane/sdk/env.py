"""Settings from the environment or a ``.env`` file, read as the server reads them.

The ``.env`` syntax is python-dotenv's, the parser the server's pydantic-settings uses, so a
file means the same to the SDK and to ``keyplane serve``. A real environment variable wins
over ``.env``, as everywhere in keyplane.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_URL = "http://127.0.0.1:8080"


def parse_env(text: str) -> dict[str, str]:
    """The ``NAME=value`` pairs of ``.env`` text; a bare ``NAME`` without ``=`` is left out."""
    return _assigned(dotenv_values(stream=io.StringIO(text)))


def read_env_file(path: str | Path | None) -> dict[str, str]:
    """The variables in ``path``; empty when there is no such file or it cannot be read."""
    if path is None:
        return {}
    try:
        # Same call as pydantic-settings, so ${VAR} expands the same way too.
        return _assigned(dotenv_values(path, encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def _assigned(values: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in values.items() if value is not None}


def setting(name: str, *, env_file: str | Path | None = ".env") -> str | None:
    """``name`` from the environment, else from ``env_file``; ``None`` when unset or empty.

    An empty environment variable counts as unset, as the server's ``env_ignore_empty`` has it.
    """
    return os.environ.get(name) or read_env_file(env_file).get(name) or None

"""Settings from the environment or a ``.env`` file, without pydantic-settings or python-dotenv.

A real environment variable wins over ``.env``, as everywhere in keyplane.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"


def parse_env(text: str) -> dict[str, str]:
    """``NAME=value`` lines; blank lines, ``#`` comments and an ``export`` prefix are allowed."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        name, sep, value = line.partition("=")
        if sep and name.strip():
            values[name.strip()] = _unquote(value.strip())
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    # An unquoted value ends where a comment starts, as in python-dotenv.
    return value.split(" #", 1)[0].rstrip()


def read_env_file(path: str | Path | None) -> dict[str, str]:
    """The variables in ``path``; empty when there is no such file or it cannot be read."""
    if path is None:
        return {}
    try:
        return parse_env(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def setting(name: str, *, env_file: str | Path | None = ".env") -> str | None:
    """``name`` from the environment, else from ``env_file``; ``None`` when unset or empty."""
    value = os.environ.get(name)
    if value is None:
        value = read_env_file(env_file).get(name)
    return value or None

"""The ``keyplane`` console script: says what to install when only the SDK is present."""

from __future__ import annotations

import sys

# Top-level modules of the "server" extra; a missing one means the extra is not installed.
_SERVER_MODULES = {
    "click", "fastapi", "sqlalchemy", "uvicorn", "alembic", "pydantic_settings", "ahocorasick_rs",
}  # fmt: skip


def main() -> None:
    try:
        from keyplane.cli.main import main as cli_main

        cli_main()  # commands import their modules when they run
    except ModuleNotFoundError as exc:
        if exc.name not in _SERVER_MODULES:
            raise
        sys.stderr.write(
            f"keyplane: the command line needs the server extra ({exc.name} is missing); "
            "install it with: pip install 'keyplane[server]'\n"
        )
        sys.exit(1)

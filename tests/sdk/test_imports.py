"""``keyplane.sdk`` stands alone: httpx, pydantic and python-dotenv, nothing of the server."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import keyplane.sdk

SERVER_PACKAGES = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "click",
    "pydantic_settings",
    "uvicorn",
    "asyncpg",
    "aiosqlite",
    "orjson",
)
SERVER_MODULES = tuple(
    f"keyplane.{area}"
    for area in (
        "api",
        "store",
        "services",
        "cli",
        "auth",
        "gateway",
        "usage",
        "limits",
        "web",
        "audit",
        "scan",
        "testing",
        "config",
    )
)

# Imports keyplane.sdk as an SDK-only install would: the server's packages are not there.
PROBE = """
import importlib.abc, json, sys
BLOCKED = set(sys.argv[1:])
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NotInstalled())
import keyplane.sdk, keyplane.sdk.asgi
print(json.dumps(sorted(sys.modules)))
"""


def imported_modules(*blocked: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *blocked],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout)
    return modules


def offenders(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [
        name
        for name in modules
        if name.partition(".")[0] in packages
        or any(name == m or name.startswith(f"{m}.") for m in SERVER_MODULES)
    ]


def test_importing_the_sdk_needs_nothing_of_the_server() -> None:
    assert offenders(imported_modules(*SERVER_PACKAGES), SERVER_PACKAGES) == []


def test_importing_the_sdk_loads_no_server_module_when_the_server_is_installed() -> None:
    # click is left out: httpx imports it for its own CLI whenever it is installed.
    packages = tuple(p for p in SERVER_PACKAGES if p != "click")
    assert offenders(imported_modules(), packages) == []


def test_base_dependencies_are_the_sdks_only() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    names = {
        dep.split(">")[0].split("=")[0].split("[")[0]
        for dep in pyproject["project"]["dependencies"]
    }
    assert names == {"httpx", "pydantic", "python-dotenv"}


def test_public_names_resolve() -> None:
    missing = [name for name in keyplane.sdk.__all__ if not hasattr(keyplane.sdk, name)]
    assert missing == []
    assert {"Client", "AsyncClient", "Verifier", "AsyncVerifier", "VerifiedKey"} <= set(
        keyplane.sdk.__all__
    )

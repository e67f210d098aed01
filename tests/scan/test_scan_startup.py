"""``keyplane scan`` and ``keyplane doctor`` start without importing the server.

A pre-commit hook runs ``keyplane scan --staged`` on every commit; the server's imports
(SQLAlchemy, FastAPI, ...) cost it about half a second. ``python -X importtime`` lists every
module a real ``python -m keyplane`` process imported, so these tests see what users pay.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyplane.keys.format import KeyKind, generate_key
from scan.scan_fakes import Repo

SERVER = (
    "sqlalchemy", "fastapi", "starlette", "uvicorn", "alembic", "redis", "argon2", "asyncpg",
    "aiosqlite", "jinja2", "keyplane.store", "keyplane.app", "keyplane.api", "keyplane.web",
    "keyplane.gateway", "keyplane.runtime", "keyplane.services", "keyplane.http",
)  # fmt: skip
# What the pre-commit path must not pay for either: settings and the HTTP client.
CLIENT = ("pydantic", "pydantic_settings", "httpx", "dotenv")


def imported_modules(
    *args: str, cwd: Path, python_args: tuple[str, ...] = ("-m", "keyplane")
) -> set[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *python_args, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert len(lines) > 20  # the probe works: it saw the interpreter's own imports
    return {line.rsplit("|", 1)[1].strip() for line in lines}


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("args", [["scan", "."], ["scan", "--staged"], ["scan", "--history"]])
def test_scan_imports_neither_the_server_nor_the_client(repo: Repo, args: list[str]) -> None:
    repo.write("a.py", "print('hello')\n")
    repo.commit("first")
    repo.write("b.py", "print('staged')\n")
    repo.git("add", "b.py")
    modules = imported_modules(*args, cwd=repo.root)
    assert "keyplane.scan.patterns" in modules
    assert loaded(modules, SERVER) == []
    assert loaded(modules, CLIENT) == []


def test_doctor_imports_nothing_of_the_server(repo: Repo) -> None:
    repo.write(".gitignore", ".env\n")
    repo.commit("first")
    modules = imported_modules("doctor", cwd=repo.root)
    assert "keyplane.scan.doctor" in modules
    assert loaded(modules, SERVER) == []


def test_the_probe_sees_the_server_when_it_is_imported(repo: Repo) -> None:
    modules = imported_modules(cwd=repo.root, python_args=("-c", "import keyplane.store.models"))
    assert {"sqlalchemy", "keyplane.store"} <= set(loaded(modules, SERVER))


BLOCKED_RUN = """
import importlib.abc, runpy, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
sys.argv = ["keyplane", *{args!r}]
runpy.run_module("keyplane", run_name="__main__")
"""


def test_scan_runs_with_only_what_the_pre_commit_hook_installs(repo: Repo) -> None:
    # The hook installs the base package (httpx, pydantic, python-dotenv) plus click and
    # ahocorasick-rs: no server, no pydantic-settings. Hide those and run the real command.
    key = generate_key(KeyKind.PROJECT)
    repo.write("a.py", f"KEY = '{key}'\n")
    repo.git("add", "a.py")
    blocked = {"pydantic_settings", *SERVER}
    code = BLOCKED_RUN.format(blocked=sorted(blocked), args=["scan", "--staged", "--json"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=repo.root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert '"rule": "keyplane-key"' in done.stdout
    # The block bites: a command that talks to the server cannot run without its client.
    code = BLOCKED_RUN.format(blocked=sorted(blocked), args=["keys", "list"])
    refused = subprocess.run(
        [sys.executable, "-c", code], cwd=repo.root, env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "server extra" in refused.stderr

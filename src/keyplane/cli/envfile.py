"""Write a key into a ``.env`` file the way we teach: mode 0600, and ignored by git."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from keyplane.cli.errors import CliError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class EnvWrite:
    path: Path
    replaced: bool
    gitignore: Path | None
    loose_mode: bool


def write_env_var(path: Path, name: str, value: str) -> EnvWrite:
    """Set ``name=value`` in ``path``, replacing an existing line and keeping the rest."""
    if not _NAME.match(name):
        raise CliError(f"--env-var: {name!r} is not a valid variable name")
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    pattern = re.compile(rf"^\s*(export\s+)?{re.escape(name)}\s*=")
    replaced = False
    out: list[str] = []
    for line in lines:
        if pattern.match(line):
            if not replaced:
                out.append(f"{name}={value}")
            replaced = True
        else:
            out.append(line)
    if not replaced:
        out.append(f"{name}={value}")
    existed = path.exists()
    _write_private(path, "\n".join(out) + "\n")
    loose = existed and bool(path.stat().st_mode & 0o077)
    return EnvWrite(path=path, replaced=replaced, gitignore=ensure_ignored(path), loose_mode=loose)


def _write_private(path: Path, text: str) -> None:
    """Write via a 0600 temporary file and rename, so the file is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = (path.stat().st_mode & 0o777) if path.exists() else 0o600
    temporary = path.with_name(f".{path.name}.keyplane-tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def ensure_ignored(path: Path) -> Path | None:
    """Inside a git work tree, add ``path`` to the top-level ``.gitignore`` unless ignored."""
    directory = path.resolve().parent
    top = _git(directory, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    root = Path(top)
    if _git(directory, "check-ignore", "-q", str(path.resolve())) is not None:
        return None
    gitignore = root / ".gitignore"
    entry = "/" + path.resolve().relative_to(root).as_posix()
    existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    gitignore.write_text(f"{existing}{separator}{entry}\n", encoding="utf-8")
    return gitignore


def _git(cwd: Path, *args: str) -> str | None:
    """Run git; None when git is missing, this is not a work tree, or the command says no."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as the user runs it
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None

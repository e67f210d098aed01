"""The few git commands the scanner needs, run as subprocesses."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from keyplane.scan.errors import ScanError

# Fixed output regardless of the user's config: no colour, no pager, raw paths.
_GIT = ("git", "-c", "core.quotepath=off", "-c", "color.ui=never", "--no-pager")


def _git_binary() -> str:
    found = shutil.which("git")
    if found is None:
        raise ScanError("git is not installed; it is needed for --history, --staged and doctor")
    return found


def run_git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run ``git -C repo args``; raise ``ScanError`` with git's first error line on failure."""
    command = [_git_binary(), *_GIT[1:], "-C", str(repo), *args]
    done = subprocess.run(command, capture_output=True, check=False)  # noqa: S603
    if check and done.returncode != 0:
        raise ScanError(f"git {args[0]} failed: {_first_line(done.stderr)}")
    return done


@contextmanager
def stream_git(repo: Path, *args: str) -> Iterator[IO[bytes]]:
    """Run git and yield its stdout as a stream, so huge histories never sit in memory."""
    command = [_git_binary(), *_GIT[1:], "-C", str(repo), *args]
    process = subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        yield process.stdout
    finally:
        process.stdout.close()
        error = process.stderr.read()
        process.stderr.close()
        returncode = process.wait()
    # Reached only when the reader finished normally: its own exception wins otherwise.
    if returncode != 0:
        raise ScanError(f"git {args[0]} failed: {_first_line(error)}")


def work_tree_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``, or None outside git (or without git)."""
    if shutil.which("git") is None:
        return None
    directory = path if path.is_dir() else path.parent
    done = run_git(directory, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        return None
    return Path(done.stdout.decode().strip())


def require_repo(path: Path) -> Path:
    """Like ``work_tree_root`` but a missing repository is the user's error."""
    root = work_tree_root(path)
    if root is None:
        raise ScanError(f"{path} is not inside a git repository")
    return root


def _first_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else "unknown error"

"""Which files to scan, and scanning them: git's view of the tree when there is one.

A path named on the command line is scanned even when git ignores it or it lies in a
directory the scanner normally skips (``.venv``, ``node_modules``): naming it is asking.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from keyplane.scan.finding import Finding, Skipped, findings_in_chunks
from keyplane.scan.git import run_git, work_tree_root
from keyplane.scan.patterns import Detector
from keyplane.scan.source import CHUNK, SNIFF, decode_text, decoded_chunks, sniff_encoding

DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024
# Third-party or generated trees: secrets there are someone else's, and they are large.
SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", ".venv", "venv",
        "env", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".tox",
        ".nox", "site-packages", "dist", "build", ".eggs", "bower_components", ".keyplane",
    }
)  # fmt: skip
VCS_DIRS = frozenset({".git", ".hg", ".svn"})
TOO_LARGE = "too large"
UNREADABLE = "unreadable"
__all__ = ["DEFAULT_MAX_FILE_SIZE", "Skipped", "WalkStats", "scan_paths"]


@dataclass(slots=True)
class WalkStats:
    """What the walk read and what it left out, for the summary line."""

    files: int = 0
    bytes: int = 0
    skipped_binary: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def skipped_large(self) -> int:
        return sum(1 for skip in self.skipped if skip.reason == TOO_LARGE)


def is_vendored(relative: str) -> bool:
    """True when any directory on the path is one we never scan."""
    parts = relative.replace(os.sep, "/").split("/")[:-1]
    return any(part in SKIP_DIRS for part in parts)


def _named_whole(root: Path, git_root: Path | None) -> bool:
    """True when ``root`` was named although the scanner would normally leave it out."""
    if git_root is None:
        # Only what was typed: a project kept under ~/env/ is not vendored for that.
        typed = root.parts[-1:] if root.is_absolute() else root.parts
        return any(part in SKIP_DIRS for part in typed)
    try:
        inside = root.resolve().relative_to(git_root.resolve()).parts
    except ValueError:  # a symlink out of the work tree: git's rules do not reach there
        return True
    if any(part in SKIP_DIRS for part in inside):
        return True
    return run_git(root, "check-ignore", "-q", ".", check=False).returncode == 0


def _walk(root: Path, prune: frozenset[str]) -> Iterator[Path]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in prune)
        for name in sorted(files):
            yield Path(directory) / name


def candidate_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` that git would not ignore; every file when ``root`` is one."""
    if not root.is_dir():
        yield root
        return
    git_root = work_tree_root(root)
    if _named_whole(root, git_root):
        yield from _walk(root, VCS_DIRS)
    elif git_root is not None:
        # Run inside root: git then lists only files below it, relative to it.
        listed = run_git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
        for name in listed.stdout.decode("utf-8", "surrogateescape").split("\0"):
            if name and not is_vendored(name):
                yield root / name
    else:
        yield from _walk(root, SKIP_DIRS)


def scan_file(
    detector: Detector, path: Path, *, max_size: int, stats: WalkStats
) -> Iterator[Finding]:
    """The findings in one file, read in chunks; a skip is recorded in ``stats``."""
    try:
        if not path.is_file():
            return  # deleted since git listed it, or a dangling link: nothing to scan
        size = path.stat().st_size
        if size > max_size:
            stats.skipped.append(Skipped(str(path), TOO_LARGE, size))
            return
        with path.open("rb") as stream:
            head = stream.read(CHUNK)
            encoding = sniff_encoding(head[:SNIFF])
            if encoding is None:
                stats.skipped_binary += 1
                return
            stats.files += 1
            stats.bytes += size
            chunks = decoded_chunks(stream, head, encoding)
            yield from findings_in_chunks(detector, chunks, str(path))
    except OSError as exc:
        stats.skipped.append(Skipped(str(path), f"{UNREADABLE}: {exc.strerror or exc}"))


def _unique_files(paths: list[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for root in paths:
        for path in candidate_files(root):
            if path not in seen:
                seen.add(path)
                yield path


def iter_sources(
    paths: list[Path], *, suffix: str = "", max_size: int = DEFAULT_MAX_FILE_SIZE
) -> Iterator[tuple[Path, bytes]]:
    """``(path, UTF-8 bytes)`` of each whole text file named ``*suffix`` under ``paths``."""
    for path in _unique_files(paths):
        if not path.name.endswith(suffix):
            continue
        try:
            if not path.is_file() or path.stat().st_size > max_size:
                continue
            data = decode_text(path.read_bytes())
        except OSError:
            continue
        if data is not None:
            yield path, data


def scan_paths(
    paths: list[Path],
    detector: Detector,
    *,
    max_size: int = DEFAULT_MAX_FILE_SIZE,
    stats: WalkStats | None = None,
) -> list[Finding]:
    """Every finding in the text files under ``paths``."""
    stats = stats if stats is not None else WalkStats()
    return [
        finding
        for path in _unique_files(paths)
        for finding in scan_file(detector, path, max_size=max_size, stats=stats)
    ]

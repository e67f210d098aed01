"""Which files to scan: git's view of the tree when there is one, else a pruned walk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from keyplane.scan.finding import Finding, findings_in
from keyplane.scan.git import run_git, work_tree_root
from keyplane.scan.patterns import Detector

DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024
BINARY_SNIFF = 8192
# Third-party or generated trees: secrets there are someone else's, and they are large.
SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", ".venv", "venv",
        "env", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".tox",
        ".nox", "site-packages", "dist", "build", ".eggs", "bower_components", ".keyplane",
    }
)  # fmt: skip


@dataclass(slots=True)
class WalkStats:
    """What the walk read and what it left out, for the summary line."""

    files: int = 0
    bytes: int = 0
    skipped_large: int = 0
    skipped_binary: int = 0


def is_vendored(relative: str) -> bool:
    """True when any directory on the path is one we never scan."""
    parts = relative.replace(os.sep, "/").split("/")[:-1]
    return any(part in SKIP_DIRS for part in parts)


def candidate_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` that git would not ignore; every file when ``root`` is one."""
    if root.is_file():
        yield root
        return
    if work_tree_root(root) is not None:
        # Run inside root: git then lists only files below it, relative to it.
        listed = run_git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
        for name in listed.stdout.decode("utf-8", "surrogateescape").split("\0"):
            if name and not is_vendored(name):
                yield root / name
        return
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            yield Path(directory) / name


def read_text_file(path: Path, max_size: int, stats: WalkStats) -> bytes | None:
    """The bytes of ``path``, or None when it is too large, binary, or gone."""
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > max_size:
            stats.skipped_large += 1
            return None
        data = path.read_bytes()
    except OSError:
        # Deleted since git listed it, a dangling link, or unreadable: nothing to scan.
        return None
    if b"\0" in data[:BINARY_SNIFF]:
        stats.skipped_binary += 1
        return None
    stats.files += 1
    stats.bytes += len(data)
    return data


def iter_sources(
    paths: list[Path], *, max_size: int = DEFAULT_MAX_FILE_SIZE, stats: WalkStats | None = None
) -> Iterator[tuple[Path, bytes]]:
    """``(path, bytes)`` of every text file to scan under ``paths``."""
    stats = stats if stats is not None else WalkStats()
    seen: set[Path] = set()
    for root in paths:
        for path in candidate_files(root):
            if path in seen:
                continue
            seen.add(path)
            data = read_text_file(path, max_size, stats)
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
    return [
        finding
        for path, data in iter_sources(paths, max_size=max_size, stats=stats)
        for finding in findings_in(detector, data, str(path))
    ]

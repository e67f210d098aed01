"""Secrets added in git history or in the index, read from one ``git log -p`` stream."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from keyplane.scan.finder import DEFAULT_MAX_FILE_SIZE, TOO_LARGE, Skipped, WalkStats, is_vendored
from keyplane.scan.finding import Finding, findings_in
from keyplane.scan.git import require_repo, run_git, stream_git
from keyplane.scan.patterns import Detector
from keyplane.scan.source import decode_text

COMMIT_MARK = b"\x1ekeyplane-commit "
_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
# git calls a file binary when it holds a NUL byte, as every UTF-16 file does.
_BINARY = re.compile(rb"^Binary files .* and (.+) differ$")


@dataclass(slots=True)
class _Added:
    """The lines one commit added to one file, with their line numbers in the new file."""

    commit: str | None
    path: str | None = None
    lines: list[bytes] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    size: int = 0
    binary: bool = False


def added_blocks(
    stream: Iterable[bytes], max_size: int = DEFAULT_MAX_FILE_SIZE
) -> Iterator[_Added]:
    """Group the ``+`` lines of a unified diff stream by commit and file.

    A block past ``max_size`` keeps counting its size but stops keeping lines: it will be
    reported as skipped, and memory stays bounded.
    """
    current = _Added(commit=None)
    next_line = 0
    in_header = True
    for raw in stream:
        line = raw.rstrip(b"\n")
        if line.startswith(COMMIT_MARK):
            yield current
            current = _Added(commit=line[len(COMMIT_MARK) :].decode("ascii", "replace"))
        elif line.startswith(b"diff --git "):
            yield current
            current = _Added(commit=current.commit)
            in_header = True
        elif in_header and line.startswith(b"+++ "):
            current.path = _diff_path(line[4:])
        elif in_header and (binary := _BINARY.match(line)):
            current.path = _diff_path(binary.group(1))
            current.binary = True
        elif match := _HUNK.match(line):
            in_header = False
            next_line = int(match.group(1))
        elif not in_header and line.startswith(b"+"):
            current.size += len(line)
            if current.size <= max_size:
                current.lines.append(line[1:])
                current.numbers.append(next_line)
            next_line += 1
    yield current


def _diff_path(raw: bytes) -> str | None:
    """The new path from a ``+++`` line; None for a deleted file."""
    text = raw.decode("utf-8", "surrogateescape").rstrip("\t")
    if text == "/dev/null":
        return None
    if text.startswith('"') and text.endswith('"'):
        # git quotes names with tabs or newlines; keep it readable rather than exact.
        text = text[1:-1]
    return text[2:] if text[:2] == "b/" else text


def block_findings(
    detector: Detector, block: _Added, max_size: int, stats: WalkStats
) -> Iterator[Finding]:
    """Findings in one block, with line numbers of the new file."""
    if not block.size or block.path is None or is_vendored(block.path):
        return
    if block.size > max_size:
        stats.skipped.append(Skipped(block.path, TOO_LARGE, block.size, block.commit))
        return
    stats.files += 1
    stats.bytes += block.size
    # Joined, so a private key spread over consecutive added lines is still one match.
    data = b"\n".join(block.lines)
    for finding in findings_in(detector, data, block.path, commit=block.commit):
        finding.line = block.numbers[finding.line - 1]
        yield finding


def history_findings(
    repo: Path,
    detector: Detector,
    *,
    max_size: int = DEFAULT_MAX_FILE_SIZE,
    stats: WalkStats | None = None,
) -> list[Finding]:
    """Each distinct secret ever added on any ref, once, at its oldest addition."""
    root = require_repo(repo)
    args = (
        "log", "-p", "--all", "--reverse", "--date-order", "--no-color", "--unified=0",
        "--no-ext-diff", "--no-textconv", f"--format={COMMIT_MARK.decode()}%H",
    )  # fmt: skip
    stats = stats if stats is not None else WalkStats()
    first: dict[str, Finding] = {}
    with stream_git(root, *args) as stream:
        for block in added_blocks(stream, max_size):
            for finding in block_findings(detector, block, max_size, stats):
                first.setdefault(finding.fingerprint, finding)
    return list(first.values())


def staged_findings(
    repo: Path,
    detector: Detector,
    *,
    max_size: int = DEFAULT_MAX_FILE_SIZE,
    stats: WalkStats | None = None,
) -> list[Finding]:
    """Secrets in lines that are staged for the next commit."""
    root = require_repo(repo)
    stats = stats if stats is not None else WalkStats()
    args = ("diff", "--cached", "--no-color", "--unified=0", "--no-ext-diff", "--no-textconv")
    found: list[Finding] = []
    with stream_git(root, *args) as stream:
        for block in added_blocks(stream, max_size):
            if block.binary and block.path is not None:
                found += staged_blob_findings(root, detector, block.path, max_size, stats)
            else:
                found += block_findings(detector, block, max_size, stats)
    return found


def staged_blob_findings(
    root: Path, detector: Detector, path: str, max_size: int, stats: WalkStats
) -> list[Finding]:
    """A staged file git calls binary: scanned whole when it is UTF-16 or UTF-32 text."""
    size = int(run_git(root, "cat-file", "-s", f":{path}").stdout)
    if size > max_size:
        stats.skipped.append(Skipped(path, TOO_LARGE, size))
        return []
    text = decode_text(run_git(root, "cat-file", "blob", f":{path}").stdout)
    if text is None:
        stats.skipped_binary += 1
        return []
    stats.files += 1
    stats.bytes += size
    return list(findings_in(detector, text, path))

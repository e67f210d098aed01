"""A finding: where a secret is, what kind, and how to show it without showing it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from keyplane.keys.secrets import redact
from keyplane.scan.patterns import Detector
from keyplane.scan.rules import CONTEXT_RULES, KEYPLANE_RULE, MAX_MATCH, PRIVATE_KEY_RULE

# The literal head of a provider secret ("sk-proj-", "ghp_", "xoxb-") says what it is and
# is not secret; everything after it is.
_HEAD = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]{0,9}[-_]){1,3}")
_TAIL = 4


@dataclass(slots=True)
class Finding:
    """One secret at one place. ``secret`` is excluded from ``repr`` and every output."""

    rule_id: str
    file: str
    line: int
    secret: str = field(repr=False)
    commit: str | None = None
    live: bool | None = None
    status: str | None = None
    key_id: str | None = None
    project_id: str | None = None
    revoked: bool = False

    @property
    def redacted(self) -> str:
        return redact_secret(self.rule_id, self.secret)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule_id, self.secret)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file (or, in history, a file's change) the scan did not read, and why."""

    file: str
    reason: str
    size: int | None = None
    commit: str | None = None


def fingerprint(rule_id: str, secret: str) -> str:
    """SHA-256 of rule and secret: stable across moves, and reveals nothing."""
    return hashlib.sha256(f"{rule_id}:{secret}".encode()).hexdigest()


def redact_secret(rule_id: str, secret: str) -> str:
    """A display form with at most a non-secret prefix and the last four characters."""
    if rule_id == KEYPLANE_RULE:
        return redact(secret)
    if rule_id == PRIVATE_KEY_RULE:
        header = secret.split("-----")[1] if secret.count("-----") >= 2 else "PRIVATE KEY"
        return f"-----{header}-----..."
    if rule_id in CONTEXT_RULES:
        # No prefix of its own: any more than the tail would shorten a brute force.
        return f"...{secret[-_TAIL:]}"
    head = _HEAD.match(secret)
    prefix = head.group()[:16] if head else secret[:4]
    if len(secret) <= len(prefix) + 2 * _TAIL:
        return f"{prefix}..."
    return f"{prefix}...{secret[-_TAIL:]}"


def findings_in(
    detector: Detector, data: bytes, file: str, *, commit: str | None = None
) -> Iterator[Finding]:
    """The findings in the bytes of one file."""
    for hit, line in detector.locate(data, detector.find(data)):
        yield Finding(hit.rule.id, file, line, hit.secret, commit=commit)


# Chunks overlap by more than the longest match, so a secret cut by a chunk's end is whole
# in the next chunk; a few bytes more let the next chunk see what precedes a token.
OVERLAP = MAX_MATCH + 64
_LOOKBEHIND = 64


def findings_in_chunks(
    detector: Detector, chunks: Iterable[bytes], file: str, *, commit: str | None = None
) -> Iterator[Finding]:
    """The findings in a file read as consecutive chunks, each reported once.

    Each buffer is the tail of the previous one plus the next chunk. A hit counts in the
    buffer where it starts before the last ``OVERLAP`` bytes (or anywhere in the last buffer),
    so memory stays bounded by the chunk size however large the file.
    """
    carry, lines_before, keep_from = b"", 0, 0
    pending = iter(chunks)
    chunk = next(pending, None)
    while chunk is not None:
        following = next(pending, None)
        buffer = carry + chunk
        last = following is None
        if not last and len(buffer) < 2 * OVERLAP:
            carry, chunk = buffer, following
            continue
        cutoff = len(buffer) if last else len(buffer) - OVERLAP
        hits = [hit for hit in detector.find(buffer) if keep_from <= hit.start < cutoff]
        for hit, line in detector.locate(buffer, hits):
            yield Finding(hit.rule.id, file, lines_before + line, hit.secret, commit=commit)
        restart = max(0, cutoff - _LOOKBEHIND)
        lines_before += buffer.count(b"\n", 0, restart)
        carry, keep_from, chunk = buffer[restart:], cutoff - restart, following

"""A finding: where a secret is, what kind, and how to show it without showing it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from keyplane.keys.secrets import redact
from keyplane.scan.patterns import KEYPLANE_RULE, PRIVATE_KEY_RULE, Detector, line_number

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
    head = _HEAD.match(secret)
    prefix = head.group()[:16] if head else secret[:4]
    if len(secret) <= len(prefix) + 2 * _TAIL:
        return f"{prefix}..."
    return f"{prefix}...{secret[-_TAIL:]}"


def findings_in(
    detector: Detector, data: bytes, file: str, *, commit: str | None = None
) -> Iterator[Finding]:
    """The findings in the bytes of one file."""
    for hit in detector.find(data):
        line = line_number(data, hit.start)
        yield Finding(hit.rule.id, file, line, hit.secret, commit=commit)

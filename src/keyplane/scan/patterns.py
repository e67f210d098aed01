"""Secret rules and the detector that applies them to bytes.

Each rule has an anchor: a short regex that starts with a literal, which ``re`` searches
for at memchr-like speed. The detector runs a rule's full regex only over texts where its
anchor occurs, so the usual file costs ten fast searches and no backtracking regex work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from keyplane.keys.format import KeyKind, is_valid_key

KEYPLANE_RULE = "keyplane-key"
PRIVATE_KEY_RULE = "private-key"
ALLOW_MARKER = b"keyplane:allow"
# A match must not continue a longer token, or ``xAKIA...`` inside a hash would be reported.
_WORD = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of secret: a stable id, what it is, its regex and the anchor that gates it."""

    id: str
    name: str
    pattern: str
    anchor: str


PROVIDER_RULES: tuple[Rule, ...] = (
    Rule(
        "openai-api-key",
        "OpenAI API key",
        # Project, service-account and admin keys carry "T3BlbkFJ" (base64 of "OpenAI").
        r"sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ"
        r"(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})(?![A-Za-z0-9_-])"
        r"|sk-[A-Za-z0-9]{48}(?![A-Za-z0-9_-])",
        "sk-",
    ),
    Rule(
        "anthropic-api-key",
        "Anthropic API key",
        r"sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA(?![A-Za-z0-9_-])",
        "sk-ant-",
    ),
    Rule(
        "google-api-key",
        "Google API key",
        r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])",
        "AIza",
    ),
    Rule(
        "aws-access-key-id",
        "AWS access key id",
        r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![0-9A-Za-z])",
        "A(?:KI|SI|BI|CC)A",
    ),
    Rule(
        "github-token",
        "GitHub token",
        r"gh[pousr]_[0-9A-Za-z]{36}(?![0-9A-Za-z])",
        "gh[pousr]_",
    ),
    Rule(
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token",
        r"github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}(?![0-9A-Za-z])",
        "github_pat_",
    ),
    Rule(
        "stripe-secret-key",
        "Stripe secret or restricted key",
        r"[sr]k_(?:live|test)_[0-9A-Za-z]{16,247}(?![0-9A-Za-z])",
        "k_(?:live|test)_",
    ),
    Rule(
        "slack-token",
        "Slack token",
        r"xox[baprs]-[0-9]{8,14}-[0-9A-Za-z-]{16,}",
        "xox[baprs]-",
    ),
    Rule(
        PRIVATE_KEY_RULE,
        "Private key block",
        # The body is required: a bare header is how parsers and docs mention the format.
        r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----[^-]{64,16384}"
        r"-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----",
        "PRIVATE KEY-----",
    ),
)


def keyplane_rule(brand: str) -> Rule:
    """The rule for this deployment's keys; the checksum is checked after the regex."""
    kinds = "|".join(kind.value for kind in KeyKind)
    return Rule(
        KEYPLANE_RULE,
        "keyplane API key",
        rf"{re.escape(brand)}_(?:{kinds})_[0-9A-Za-z]{{38}}(?![0-9A-Za-z])",
        f"{re.escape(brand)}_",
    )


@dataclass(frozen=True, slots=True)
class Hit:
    """Where a rule matched inside one text. ``secret`` stays in memory, never printed."""

    rule: Rule
    start: int
    secret: str = field(repr=False)


class Detector:
    """Finds secrets in bytes with every rule, for keys of one brand."""

    def __init__(self, *, brand: str = "kp") -> None:
        self.brand = brand
        self.rules: tuple[Rule, ...] = (keyplane_rule(brand), *PROVIDER_RULES)
        self._compiled = [
            (rule, re.compile(rule.anchor.encode()), re.compile(rule.pattern.encode()))
            for rule in self.rules
        ]

    def find(self, data: bytes) -> Iterator[Hit]:
        """Every secret in ``data``, skipping look-alikes and allow-listed lines."""
        for rule, anchor, regex in self._compiled:
            if anchor.search(data) is None:
                continue
            for match in regex.finditer(data):
                start = match.start()
                if start and data[start - 1] in _WORD and rule.id != PRIVATE_KEY_RULE:
                    continue
                secret = match.group().decode("ascii", "replace")
                if rule.id == KEYPLANE_RULE and not is_valid_key(secret, brand=self.brand):
                    continue
                if _allowed(data, start):
                    continue
                yield Hit(rule, start, secret)


def _allowed(data: bytes, offset: int) -> bool:
    """True when the line holding ``offset`` carries the inline allow marker."""
    begin = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    return ALLOW_MARKER in data[begin : end if end >= 0 else len(data)]


def line_number(data: bytes, offset: int) -> int:
    """1-based line of ``offset`` in ``data``."""
    return data.count(b"\n", 0, offset) + 1

"""One metered call, and the token counts read from an upstream's ``usage`` block."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

# A count above this is no real call (the largest context windows hold a few million tokens);
# bucket sums of it stay far inside a 64-bit column.
MAX_TOKENS = 100_000_000
# At most one warning of odd usage values this often; every one is counted.
ODD_WARNING_SECONDS = 60.0


class OddValues:
    """The odd counts upstreams gave this process: each counted (for ``/metrics``), and
    warned of at most once every ``every`` seconds, with how many went unwarned since.

    A warning per value would let an upstream that sends them on every call, or thousands in
    one usage block, fill the logs at that rate.
    """

    def __init__(
        self, *, every: float = ODD_WARNING_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.count = 0
        self.every = every
        self._clock = clock
        self._warned_at: float | None = None
        self._unwarned = 0

    def add(self, name: str, value: Any, counted: int) -> None:
        self.count += 1
        now = self._clock()
        if self._warned_at is not None and now - self._warned_at < self.every:
            self._unwarned += 1
            return
        unwarned, self._unwarned, self._warned_at = self._unwarned, 0, now
        logger.warning(
            "upstream usage gave %s = %.40r; counted as %d%s",
            name,
            value,
            counted,
            f" ({unwarned} more odd values since the last warning)" if unwarned else "",
        )


ODD_VALUES = OddValues()  # the process's; the meter reports what it added since it began

# The endpoints the gateway meters, as ``usage_buckets.endpoint`` names them.
ENDPOINTS = (
    "chat.completions",
    "completions",
    "embeddings",
    "responses",
    "messages",
    "messages.count_tokens",
)


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts of one call, as the upstream billed them.

    ``cached`` (read from a prompt cache) and ``cache_write`` (written to one, as Anthropic
    bills it) are parts of ``input``; ``reasoning`` is part of ``output``.
    """

    input: int = 0
    output: int = 0
    cached: int = 0
    reasoning: int = 0
    cache_write: int = 0


NO_TOKENS = Tokens()


def minute_of(moment: datetime) -> int:
    """The Unix time of the start of the minute bucket that ``moment`` falls in."""
    return int(moment.timestamp()) // 60 * 60


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What the meter keeps of one call that reached upstream."""

    minute: int  # Unix time of the minute's start
    organization_id: str
    project_id: str
    api_key_id: str
    model: str
    endpoint: str
    tokens: Tokens
    cost_micro_usd: int
    priced: bool
    status: int
    latency_ms: int
    provider: str = ""  # the upstream's name; empty for calls that reach none
    service_tier: str = ""  # as upstream reported it; empty when it did not
    estimated: bool = False  # tokens counted by keyplane because upstream reported none
    # Token kinds upstream reported that keyplane has no column for (audio, predictions...):
    # ("completion_tokens_details.audio_tokens", 12), ... as upstream named them.
    extra_tokens: tuple[tuple[str, int], ...] = ()

    @property
    def is_error(self) -> bool:
        return self.status >= 400


def _count(block: dict[str, Any], name: str) -> int:
    return _clean(name, block.get(name))


def _clean(name: str, value: Any) -> int:
    """A count as it is billed: an integer in range, or what ``_odd_count`` makes of it."""
    if type(value) is int and 0 <= value <= MAX_TOKENS:
        return value
    return 0 if value is None else _odd_count(name, value)


def _odd_count(name: str, value: Any) -> int:
    """An out-of-range or non-integer count from upstream, clamped, counted, and warned of.

    Too big is clamped to ``MAX_TOKENS`` (one number must not overflow everyone's flush);
    a whole-number float or digit string counts as its number, rounded up so nothing spent
    is dropped; anything else (negatives, booleans, other strings) counts 0.
    """
    count = 0
    if isinstance(value, float) and math.isfinite(value) and value > 0:
        count = min(math.ceil(value), MAX_TOKENS)
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        digits = value.lstrip("0") or "0"  # never int() of a huge string: it is slow, or raises
        count = MAX_TOKENS if len(digits) > 9 else min(int(digits), MAX_TOKENS)
    elif type(value) is int and value > MAX_TOKENS:
        count = MAX_TOKENS
    ODD_VALUES.add(name, value, count)
    return count


def _details(block: dict[str, Any], name: str) -> dict[str, Any]:
    details = block.get(name)
    return details if isinstance(details, dict) else {}


def tokens_from_usage(usage: Any) -> Tokens:
    """Counts from a ``usage`` block of any endpoint; absent or odd fields count 0.

    Chat, completions and embeddings say ``prompt_tokens``/``completion_tokens`` with
    ``prompt_tokens_details.cached_tokens`` and ``completion_tokens_details.reasoning_tokens``;
    the Responses API says ``input_tokens``/``output_tokens`` with ``input_tokens_details``
    and ``output_tokens_details``.
    """
    if not isinstance(usage, dict):
        return NO_TOKENS
    if "input_tokens" in usage:
        return Tokens(
            _count(usage, "input_tokens"),
            _count(usage, "output_tokens"),
            _count(_details(usage, "input_tokens_details"), "cached_tokens"),
            _count(_details(usage, "output_tokens_details"), "reasoning_tokens"),
        )
    return Tokens(
        _count(usage, "prompt_tokens"),
        _count(usage, "completion_tokens"),
        _count(_details(usage, "prompt_tokens_details"), "cached_tokens"),
        _count(_details(usage, "completion_tokens_details"), "reasoning_tokens"),
    )


def tokens_from_body(body: Any) -> Tokens:
    """Counts of a whole (non-streamed) answer, or of a Responses API ``response`` object."""
    if not isinstance(body, dict):
        return NO_TOKENS
    return tokens_from_usage(body.get("usage"))


# What ``Tokens`` already holds, by the names of both OpenAI usage shapes; totals are sums.
_KNOWN = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "input_tokens",
        "output_tokens",
        "prompt_tokens_details.cached_tokens",
        "completion_tokens_details.reasoning_tokens",
        "input_tokens_details.cached_tokens",
        "output_tokens_details.reasoning_tokens",
    }
)
# A hostile or broken upstream must not grow a record without bound, nor make reading one
# long: after this many non-zero candidates, the rest of a usage block is not looked at.
MAX_EXTRA_KINDS = 16
MAX_KIND_LENGTH = 64
MAX_EXTRA_CANDIDATES = 4 * MAX_EXTRA_KINDS


@dataclass(frozen=True, slots=True)
class UsageReport:
    """What an answer says it used: tokens, the tier it was served at, and other token kinds."""

    tokens: Tokens
    service_tier: str = ""
    extra_tokens: tuple[tuple[str, int], ...] = ()


def extra_tokens(usage: Any) -> tuple[tuple[str, int], ...]:
    """The positive integer counts of ``usage`` that ``Tokens`` does not hold, one level of
    ``*_details`` deep, named ``"details.kind"``; at most ``MAX_EXTRA_KINDS``."""
    if not isinstance(usage, dict):
        return ()
    found: list[tuple[str, int]] = []
    candidates = 0
    for name, value in usage.items():
        if not isinstance(value, dict):
            if name not in _KNOWN and value is not None and not (type(value) is int and not value):
                candidates += 1
                _keep(found, str(name), value)
        else:
            for inner, count in value.items():
                # Most of a usage block is zeros: for them, no name is made.
                if count is not None and not (type(count) is int and not count):
                    candidates += 1
                    _keep(found, f"{name}.{inner}" if inner else str(name), count)
                    if len(found) == MAX_EXTRA_KINDS or candidates >= MAX_EXTRA_CANDIDATES:
                        return tuple(found)
        if len(found) == MAX_EXTRA_KINDS or candidates >= MAX_EXTRA_CANDIDATES:
            return tuple(found)
    return tuple(found)


def _keep(found: list[tuple[str, int]], kind: str, count: Any) -> None:
    if kind in _KNOWN or len(kind) > MAX_KIND_LENGTH:
        return
    clean = _clean(kind, count)  # clamped: one absurd count poisons no flush
    if clean:
        found.append((kind, clean))


def service_tier_of(answer: Any) -> str:
    """The ``service_tier`` an answer (or a Responses ``response``) reports, else ``""``."""
    tier = answer.get("service_tier") if isinstance(answer, dict) else None
    return tier if isinstance(tier, str) and 0 < len(tier) <= 32 else ""


def report_of(answer: Any) -> UsageReport | None:
    """The usage an answer object carries, or ``None`` when it has no ``usage`` block."""
    if not isinstance(answer, dict) or not isinstance(answer.get("usage"), dict):
        return None
    usage = answer["usage"]
    return UsageReport(tokens_from_usage(usage), service_tier_of(answer), extra_tokens(usage))

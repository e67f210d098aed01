"""The seam for rate limits and budgets: admit a call before it goes upstream, settle it after.

The gateway calls ``admit`` once it knows the key, project, endpoint, model and body of a
call, before forwarding it. ``admit`` refuses by raising a ``KeyplaneError`` (for example
``RateLimitedError``, rendered as a 429 in OpenAI's envelope); otherwise it returns an
``Admitted`` whose ``headers`` are added to the response (``x-ratelimit-*``) and whose
``ticket`` is handed back to ``settle`` (a reservation to release or adjust).

``settle`` is called exactly once for every admitted call, after the answer is complete or
the call failed, with the real outcome: whether it reached upstream, the status, the token
counts and the cost. It must not raise for ordinary failures; errors are logged.
``ALLOW_ALL`` admits everything and settles nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from keyplane.store.models import ApiKey, Project
from keyplane.usage.records import NO_TOKENS, Tokens


@dataclass(frozen=True, slots=True)
class Call:
    """A call about to be forwarded; ``body`` is the parsed JSON the client sent."""

    key: ApiKey
    project: Project | None
    endpoint: str
    model: str
    body: dict[str, Any]
    stream: bool


@dataclass(frozen=True, slots=True)
class Admitted:
    """A call let through: extra response headers, and what ``settle`` needs back."""

    headers: tuple[tuple[bytes, bytes], ...] = ()
    ticket: object = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an admitted call ended. ``status`` 499 means the client went away mid-stream."""

    reached_upstream: bool
    status: int
    tokens: Tokens = NO_TOKENS
    cost_micro_usd: int = 0


class Admission(Protocol):
    async def admit(self, call: Call) -> Admitted:
        """Let ``call`` through, or raise a ``KeyplaneError`` to refuse it."""
        ...

    async def settle(self, call: Call, admitted: Admitted, outcome: Outcome) -> None:
        """Account for how ``call`` ended."""
        ...


class AllowAll:
    """The default: no limits, no budgets."""

    _ADMITTED = Admitted()

    async def admit(self, call: Call) -> Admitted:
        return self._ADMITTED

    async def settle(self, call: Call, admitted: Admitted, outcome: Outcome) -> None:
        return None


ALLOW_ALL: Admission = AllowAll()

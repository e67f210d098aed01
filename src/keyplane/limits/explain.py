"""Why a budget refused a call, in words a developer can act on. Pure code.

A call reserves its worst case before it runs. A budget refuses it for one of three reasons,
and each reads differently:

    used up        what was really spent reached the limit: "You exceeded ..."
    held           spend plus what calls in flight reserved reaches it: wait for them
    does not fit   there is room, but less than this call's worst case: say what it
                   reserves and why (no max_tokens means the default maximum), and what to do
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from keyplane.limits.policy import MICRO

# The request field that bounds the output of each endpoint, as people know it.
OUTPUT_FIELD = {
    "chat.completions": "max_completion_tokens",
    "completions": "max_tokens",
    "responses": "max_output_tokens",
}


@dataclass(slots=True)  # made on every limited call: plain, not frozen (see Demand)
class Reservation:
    """What one call reserves against a budget, and where its output maximum came from."""

    model: str
    endpoint: str
    input_tokens: int
    output_tokens: int
    cost: int  # micro-USD, the worst case
    output_field: str | None  # the request field that set the output maximum; None: default


@dataclass(frozen=True, slots=True)
class BudgetState:
    """One budget as the refusal found it."""

    owner: str  # "key key_..." or "project proj_..."
    period: str
    limit: int  # micro-USD
    window_end: float | None
    spent: int | None = None  # None when the backend could not say
    reserved: int = 0


def budget_refusal(state: BudgetState, reservation: Reservation | None) -> str:
    """The message of a budget's 429."""
    budget = f"the {state.period} budget of {dollars(state.limit)} for {state.owner}"
    if state.spent is not None and state.spent >= state.limit:
        verb = "exceeded" if state.spent > state.limit else "used up"
        spent = f"{dollars(state.spent)} spent this period"
        return f"You {verb} {budget} ({spent}). {_reset(state)}"
    if state.spent is not None and state.spent + state.reserved >= state.limit:
        return (
            f"Calls still running hold the rest of {budget}: {dollars(state.spent)} spent and "
            f"{dollars(state.reserved)} reserved. Try again when they finish. {_reset(state)}"
        )
    if reservation is None or reservation.cost == 0:
        return f"{budget[0].upper()}{budget[1:]} cannot take this call. {_reset(state)}"
    left = ""
    if state.spent is not None:
        left = f" has {dollars(state.limit - state.spent - state.reserved)} left and"
    return (
        f"This call reserves up to {dollars(reservation.cost)}: {_why(reservation)}. "
        f"{budget[0].upper()}{budget[1:]}{left} cannot fit it; {_advice(reservation)}. "
        f"{_reset(state)}"
    )


def _why(reservation: Reservation) -> str:
    price = f"at {reservation.model}'s price"
    inputs = f"about {reservation.input_tokens:,} input tokens"
    if reservation.output_tokens == 0:
        return f"{inputs} {price}"
    output = f"{reservation.output_tokens:,} output tokens {price}"
    if reservation.output_field is None:
        output += f" because {_output_field(reservation)} is not set"
    else:
        output += f" (set by {reservation.output_field})"
    return f"{output}, plus {inputs}"


def _advice(reservation: Reservation) -> str:
    if reservation.output_tokens == 0:
        return "send less input, or raise the budget"
    return (
        f"set {reservation.output_field or _output_field(reservation)} lower, or raise the budget"
    )


def _output_field(reservation: Reservation) -> str:
    return OUTPUT_FIELD.get(reservation.endpoint, "max_tokens")


def _reset(state: BudgetState) -> str:
    if state.window_end is None:
        return "It does not reset; raise the budget to continue."
    reset = datetime.fromtimestamp(state.window_end, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"It resets at {reset}."


def dollars(micro_usd: int) -> str:
    """``$25.00``, or every digit when the amount is not whole cents (``$0.00045``)."""
    if micro_usd % 10_000 == 0:
        return f"${micro_usd / MICRO:,.2f}"
    return f"${Decimal(micro_usd) / MICRO:,f}"

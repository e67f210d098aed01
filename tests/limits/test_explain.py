"""A budget refusal's words: "exceeded" only when spend passed the limit, else what and why."""

from __future__ import annotations

import pytest

from keyplane.limits.explain import BudgetState, Reservation, budget_refusal

DAY_END = 1_796_169_600.0  # 2026-12-02 00:00 UTC
UNBOUNDED = Reservation("gpt-4o", "chat.completions", 14, 4096, 40_995, None)


def state(spent: int | None, reserved: int = 0, limit: int = 10_000) -> BudgetState:
    return BudgetState("key key_1", "day", limit, DAY_END, spent, reserved)


@pytest.mark.parametrize(
    ("budget", "reservation", "expected"),
    [
        (
            state(spent=0),
            UNBOUNDED,
            "This call reserves up to $0.040995: 4,096 output tokens at gpt-4o's price because "
            "max_completion_tokens is not set, plus about 14 input tokens. The day budget of "
            "$0.01 for key key_1 has $0.01 left and cannot fit it; set max_completion_tokens "
            "lower, or raise the budget. It resets at 2026-12-02 00:00 UTC.",
        ),
        (
            state(spent=2_500),
            Reservation("gpt-4o", "completions", 20, 2000, 20_050, "max_tokens"),
            "This call reserves up to $0.02005: 2,000 output tokens at gpt-4o's price (set by "
            "max_tokens), plus about 20 input tokens. The day budget of $0.01 for key key_1 has "
            "$0.0075 left and cannot fit it; set max_tokens lower, or raise the budget. It "
            "resets at 2026-12-02 00:00 UTC.",
        ),
        (
            state(spent=None),
            Reservation("text-embedding-3-small", "embeddings", 9000, 0, 180, None),
            "This call reserves up to $0.00018: about 9,000 input tokens at "
            "text-embedding-3-small's price. The day budget of $0.01 for key key_1 cannot fit "
            "it; send less input, or raise the budget. It resets at 2026-12-02 00:00 UTC.",
        ),
        (
            state(spent=12_300),
            UNBOUNDED,
            "You exceeded the day budget of $0.01 for key key_1 ($0.0123 spent this period). "
            "It resets at 2026-12-02 00:00 UTC.",
        ),
        (
            state(spent=10_000),
            None,
            "You used up the day budget of $0.01 for key key_1 ($0.01 spent this period). "
            "It resets at 2026-12-02 00:00 UTC.",
        ),
        (
            state(spent=4_000, reserved=6_000),
            UNBOUNDED,
            "Calls still running hold the rest of the day budget of $0.01 for key key_1: $0.004 "
            "spent and $0.006 reserved. Try again when they finish. It resets at 2026-12-02 "
            "00:00 UTC.",
        ),
    ],
    ids=["default-output", "named-output", "embeddings", "exceeded", "used-up", "held"],
)
def test_budget_refusal_says_why(
    budget: BudgetState, reservation: Reservation | None, expected: str
) -> None:
    assert budget_refusal(budget, reservation) == expected


def test_a_total_budget_says_it_does_not_reset() -> None:
    total = BudgetState("project proj_1", "total", 5_000_000, None, 5_000_000)
    assert budget_refusal(total, None).endswith("It does not reset; raise the budget to continue.")

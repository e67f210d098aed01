"""Rate-limit and budget flags shared by ``keys`` and ``projects`` commands."""

from __future__ import annotations

from typing import Any

import click

from keyplane.cli.errors import CliUsageError
from keyplane.cli.flags import dollars

_FLAGS = (
    click.option("--limit-rpm", type=click.IntRange(min=1), help="Requests per minute."),
    click.option("--limit-tpm", type=click.IntRange(min=1), help="Tokens per minute."),
    click.option("--limit-parallel", type=click.IntRange(min=1), help="Parallel requests."),
    click.option("--no-limits", "limit_none", is_flag=True, help="Remove the rate limits."),
    click.option(
        "--budget-usd",
        callback=lambda _ctx, _param, value: None if value is None else dollars(value),
        help="Spend budget in US dollars, e.g. 25 or 12.50.",
    ),
    click.option(
        "--budget-period", type=click.Choice(["day", "month", "total"]), help="Budget period."
    ),
    click.option(
        "--budget-alert",
        type=click.IntRange(1, 1000),
        multiple=True,
        help="Alert at this percent of the budget (repeatable).",
    ),
    click.option("--no-budget", "budget_none", is_flag=True, help="Remove the budget."),
)
_NAMES = (
    "limit_rpm",
    "limit_tpm",
    "limit_parallel",
    "limit_none",
    "budget_usd",
    "budget_period",
    "budget_alert",
    "budget_none",
)


def limit_options(function: Any) -> Any:
    for option in reversed(_FLAGS):
        function = option(function)
    return function


def pop_limit_flags(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: fields.pop(name, None) for name in _NAMES}


def any_limit_flag(flags: dict[str, Any]) -> bool:
    return any(value not in (None, (), False) for value in flags.values())


def limits_body(flags: dict[str, Any], *, current: dict[str, Any] | None) -> dict[str, Any]:
    """The ``rate_limits`` / ``budget`` fields to send, merged over ``current`` values."""
    body: dict[str, Any] = {}
    rates = {
        "requests_per_minute": flags.get("limit_rpm"),
        "tokens_per_minute": flags.get("limit_tpm"),
        "max_parallel_requests": flags.get("limit_parallel"),
    }
    if flags.get("limit_none"):
        body["rate_limits"] = None
    elif any(value is not None for value in rates.values()):
        merged = dict((current or {}).get("rate_limits") or {})
        merged |= {name: value for name, value in rates.items() if value is not None}
        body["rate_limits"] = merged
    if flags.get("budget_none"):
        body["budget"] = None
    elif (
        flags.get("budget_usd") is not None
        or flags.get("budget_period")
        or flags.get("budget_alert")
    ):
        old = (current or {}).get("budget") or {}
        budget = {
            "limit_usd": flags.get("budget_usd") or old.get("limit_usd"),
            "period": flags.get("budget_period") or old.get("period", "month"),
            "alert_thresholds": list(flags.get("budget_alert") or old.get("alert_thresholds", [])),
        }
        if budget["limit_usd"] is None:
            raise CliUsageError("--budget-usd is needed to set a budget")
        body["budget"] = budget
    return body


def limits_lines(item: dict[str, Any]) -> list[tuple[str, str]]:
    """Display rows for an object's rate limits and budget."""
    rates = item.get("rate_limits") or {}
    shown = [
        f"{value} {unit}"
        for value, unit in (
            (rates.get("requests_per_minute"), "req/min"),
            (rates.get("tokens_per_minute"), "tokens/min"),
            (rates.get("max_parallel_requests"), "parallel"),
        )
        if value is not None
    ]
    budget = item.get("budget")
    budget_text = "-"
    if budget:
        alerts = ", ".join(f"{t}%" for t in budget["alert_thresholds"])
        budget_text = f"${budget['limit_micro_usd'] / 1_000_000:,.2f} per {budget['period']}"
        budget_text += f" (alerts at {alerts})" if alerts else ""
    return [("limits", ", ".join(shown) or "-"), ("budget", budget_text)]

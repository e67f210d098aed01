"""``rate_limits`` and ``budget`` on keys and projects through the admin API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

Headers = dict[str, str]
LIMITS = {"requests_per_minute": 60, "tokens_per_minute": 10000, "max_parallel_requests": 4}
BUDGET = {"limit_usd": 25.5, "period": "month", "alert_thresholds": [80, 50, 100]}


async def test_key_limits_and_budget_round_trip_and_clear(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str
) -> None:
    url = f"/v1/organization/projects/{project_id}/api_keys"
    created = (
        await client.post(
            url,
            json={"name": "limited", "rate_limits": LIMITS, "budget": BUDGET},
            headers=admin_headers,
        )
    ).json()
    assert created["rate_limits"] == LIMITS
    assert created["budget"] == {
        "limit_usd": 25.5,
        "limit_micro_usd": 25_500_000,
        "period": "month",
        "alert_thresholds": [50, 80, 100],
    }
    key_url = f"{url}/{created['id']}"
    kept = (await client.post(key_url, json={"name": "renamed"}, headers=admin_headers)).json()
    assert kept["rate_limits"] == LIMITS
    cleared = (
        await client.post(
            key_url, json={"rate_limits": None, "budget": None}, headers=admin_headers
        )
    ).json()
    assert cleared["rate_limits"] is None and cleared["budget"] is None


async def test_project_limits_and_budget(client: httpx.AsyncClient, admin_headers: Headers) -> None:
    project = (
        await client.post(
            "/v1/organization/projects",
            json={"name": "budgeted", "budget": {"limit_usd": "10", "period": "day"}},
            headers=admin_headers,
        )
    ).json()
    assert project["budget"]["limit_micro_usd"] == 10_000_000
    assert project["rate_limits"] is None
    updated = (
        await client.post(
            f"/v1/organization/projects/{project['id']}",
            json={"rate_limits": {"requests_per_minute": 5}},
            headers=admin_headers,
        )
    ).json()
    assert updated["rate_limits"]["requests_per_minute"] == 5
    assert updated["budget"]["period"] == "day"
    assert updated["name"] == "budgeted"


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("rate_limits", {"requests_per_minute": 0}, "rate_limits.requests_per_minute"),
        ("rate_limits", {"requests_per_hour": 5}, "rate_limits.requests_per_hour"),
        ("budget", {"limit_usd": -1}, "budget.limit_usd"),
        ("budget", {"limit_usd": "0.0000001"}, "budget.limit_usd"),
        ("budget", {"limit_usd": 5, "period": "week"}, "budget.period"),
        ("budget", {"limit_usd": 5, "alert_thresholds": [0]}, "budget.alert_thresholds"),
        ("budget", {"period": "day"}, "budget.limit_usd"),
    ],
)
async def test_bad_limits_name_the_field(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    project_id: str,
    field: str,
    value: dict[str, Any],
    param: str,
) -> None:
    response = await client.post(
        f"/v1/organization/projects/{project_id}/api_keys",
        json={"name": "k", field: value},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == param

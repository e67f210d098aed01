"""The project controls page: per-model limits, model permissions, spend and service accounts."""

from __future__ import annotations

import httpx

from keyplane.services.bootstrap import Bootstrap
from web.conftest import Invite, WebClient


def page_of(project_id: str) -> str:
    return f"/projects/{project_id}/controls"


async def test_owner_sets_model_limits_permissions_and_spend_as_the_api_sees_them(
    owner: WebClient,
    booted: Bootstrap,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    assert booted.project_id is not None
    url = page_of(booted.project_id)
    await owner.get(url)
    changes: list[dict[str, object]] = [
        {"action": "model_limit", "model": "gpt-4o", "rpm": "30", "tpm": "", "rpd": "500"},
        {"action": "model_permissions", "mode": "deny_list", "models": "o1*, gpt-4"},
        {"action": "spend_limit", "usd": "100"},
        {"action": "spend_alert", "alert_usd": "50"},
    ]
    for change in changes:
        response = await owner.post(url, change)
        assert response.status_code == 303, response.text
        await owner.get(url)
    shown = (await owner.get(url)).text
    assert "<code>gpt-4o</code>" in shown and "$100.00 per month" in shown and "(50%)" in shown

    api = f"/v1/organization/projects/{booted.project_id}"
    limits = (await client.get(f"{api}/rate_limits", headers=admin_headers)).json()["data"]
    assert [
        (r["model"], r["max_requests_per_1_minute"], r["max_requests_per_1_day"]) for r in limits
    ] == [("gpt-4o", 30, 500)]
    models = (await client.get(f"{api}/model_permissions", headers=admin_headers)).json()
    assert (models["mode"], models["model_ids"]) == ("deny_list", ["o1*", "gpt-4"])
    alerts = (await client.get(f"{api}/spend_alerts", headers=admin_headers)).json()["data"]
    assert [a["threshold_amount"] for a in alerts] == [5_000]


async def test_a_day_limit_is_shown_in_the_table_audited_and_cleared_by_an_empty_field(
    owner: WebClient,
    booted: Bootstrap,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    assert booted.project_id is not None
    url = page_of(booted.project_id)
    await owner.get(url)
    limit: dict[str, object] = {
        "action": "model_limit",
        "model": "gpt-4o-mini",
        "rpm": "",
        "tpm": "",
    }
    saved = await owner.post(url, limit | {"rpd": "1000"})
    assert saved.status_code == 303, saved.text
    shown = (await owner.get(url)).text
    assert "<th>Requests / day" in shown and "(per UTC day)" in shown
    assert "<tr><td><code>gpt-4o-mini</code></td><td>—</td><td>—</td><td>1000</td></tr>" in shown

    audit = "/v1/organization/audit_logs"
    found = await client.get(audit, params={"type": "rate_limit.updated"}, headers=admin_headers)
    [event] = found.json()["data"]
    assert event["actor"]["type"] == "session"
    assert event["data"]["changes_requested"]["max_requests_per_1_day"] == 1000

    cleared = await owner.post(url, limit | {"rpd": ""})
    assert cleared.status_code == 303, cleared.text
    assert "No per-model limits." in (await owner.get(url)).text
    gone = await client.get(audit, params={"type": "rate_limit.deleted"}, headers=admin_headers)
    assert [e["data"]["model"] for e in gone.json()["data"]] == ["gpt-4o-mini"]


async def test_a_bad_amount_is_shown_next_to_its_field(owner: WebClient, booted: Bootstrap) -> None:
    assert booted.project_id is not None
    url = page_of(booted.project_id)
    await owner.get(url)
    response = await owner.post(url, {"action": "spend_limit", "usd": "lots"})
    assert response.status_code == 422
    assert "US dollars" in response.text


async def test_a_service_account_key_is_shown_once(owner: WebClient, booted: Bootstrap) -> None:
    assert booted.project_id is not None
    url = page_of(booted.project_id)
    await owner.get(url)
    made = await owner.post(f"{url}/service_accounts", {"name": "etl"})
    assert made.status_code == 200
    assert "kp_svc_" in made.text
    again = await owner.get(url)
    assert "etl" in again.text and "kp_svc_" not in again.text


async def test_a_reader_sees_the_controls_but_cannot_change_them(
    invited: Invite, booted: Bootstrap
) -> None:
    assert booted.project_id is not None
    reader = await invited("rita@example.com", "reader")
    url = page_of(booted.project_id)
    page = await reader.get(url)
    assert page.status_code == 200 and "Set limit" not in page.text
    refused = await reader.post(url, {"action": "spend_limit", "usd": "5"})
    assert refused.status_code == 403

"""OpenAI's usage and cost parameters keyplane once refused or ignored: each is honoured."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from keyplane.audit.actor import Actor
from keyplane.services.api_keys import KeySpec
from keyplane.services.bootstrap import Bootstrap
from usage.report_rows import DAY, T0, insert_rows, row

Headers = dict[str, str]
COMPLETIONS = "/v1/organization/usage/completions"
EMBEDDINGS = "/v1/organization/usage/embeddings"
COSTS = "/v1/organization/costs"
DAY_ONE = {"start_time": T0, "end_time": T0 + DAY}


async def seed(app: FastAPI, booted: Bootstrap) -> dict[str, str]:
    """Calls of a key Ada owns (priority tier) and of a key an admin key made (default)."""
    runtime = app.state.runtime
    assert booted.project_id is not None
    ada = await runtime.keys.create(
        organization_id=booted.organization_id,
        project_id=booted.project_id,
        spec=KeySpec(name="ada's"),
        actor=Actor(type="user", id="user_ada"),
    )
    scripted = await runtime.keys.create(
        organization_id=booted.organization_id,
        project_id=booted.project_id,
        spec=KeySpec(name="ci"),
        actor=Actor(type="admin_key", id="key_admin"),
    )
    rows = []
    for key, tier, cost in ((ada.key.id, "priority", 300), (scripted.key.id, "", 200)):
        made = row(
            T0 + 60,
            organization_id=booted.organization_id,
            project_id=booted.project_id,
            api_key_id=key,
            input_tokens=10,
            cost_micro_usd=cost,
        )
        rows.append({**made, "service_tier": tier})
    await insert_rows(runtime.database, rows)
    return {"ada": ada.key.id, "ci": scripted.key.id}


async def get(client: httpx.AsyncClient, path: str, headers: Headers, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [r for bucket in response.json()["data"] for r in bucket["results"]]


async def test_usage_groups_by_the_user_who_owns_the_key(
    app: FastAPI, booted: Bootstrap, client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await seed(app, booted)
    found = await get(client, COMPLETIONS, admin_headers, **DAY_ONE, group_by="user_id")
    assert sorted((r["user_id"] or "", r["num_model_requests"]) for r in found) == [
        ("", 1),
        ("user_ada", 1),
    ]
    mine = await get(client, COMPLETIONS, admin_headers, **DAY_ONE, user_ids="user_ada")
    assert [r["input_tokens"] for r in mine] == [10]


async def test_usage_groups_by_service_tier_and_batch(
    app: FastAPI, booted: Bootstrap, client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    await seed(app, booted)
    tiers = await get(client, COMPLETIONS, admin_headers, **DAY_ONE, group_by="service_tier")
    assert sorted(str(r["service_tier"]) for r in tiers) == ["None", "priority"]
    batch = await get(client, COMPLETIONS, admin_headers, **DAY_ONE, group_by="batch")
    assert [(r["batch"], r["num_model_requests"]) for r in batch] == [(False, 2)]
    assert await get(client, COMPLETIONS, admin_headers, **DAY_ONE, batch="true") == []
    assert len(await get(client, COMPLETIONS, admin_headers, **DAY_ONE, batch="false")) == 1


async def test_costs_group_and_filter_by_api_key(
    app: FastAPI, booted: Bootstrap, client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    keys = await seed(app, booted)
    by_key = await get(client, COSTS, admin_headers, **DAY_ONE, group_by="api_key_id")
    assert sorted((r["api_key_id"], r["amount"]["value_micro_usd"]) for r in by_key) == sorted(
        [(keys["ada"], 300), (keys["ci"], 200)]
    )
    only = await get(client, COSTS, admin_headers, **DAY_ONE, api_key_ids=keys["ci"])
    assert [r["amount"]["value_micro_usd"] for r in only] == [200]

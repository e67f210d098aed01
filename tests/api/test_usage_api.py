"""``/v1/organization/usage/*`` and ``/v1/organization/costs`` over HTTP, on both stores."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from keyplane.services.bootstrap import Bootstrap
from usage.report_rows import DAY, T0, insert_rows, row, sample_rows

Headers = dict[str, str]
COMPLETIONS = "/v1/organization/usage/completions"
EMBEDDINGS = "/v1/organization/usage/embeddings"
COSTS = "/v1/organization/costs"
WEEK = {"start_time": T0, "end_time": T0 + 7 * DAY}


@pytest.fixture
async def usage_rows(app: FastAPI, booted: Bootstrap) -> list[dict[str, Any]]:
    """Two projects, two keys, two models, chat and embeddings, over three days."""
    rows = sample_rows(booted.organization_id)
    await insert_rows(app.state.runtime.database, rows)
    return rows


async def get(client: httpx.AsyncClient, path: str, headers: Headers, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def results(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for bucket in page["data"] for r in bucket["results"]]


@pytest.mark.usefixtures("usage_rows")
async def test_completions_usage_has_openai_shape_with_ungrouped_fields_null(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    page = await get(client, COMPLETIONS, admin_headers, **WEEK)
    assert page["object"] == "page"
    assert (page["has_more"], page["next_page"]) == (False, None)
    assert [b["start_time"] for b in page["data"]] == [T0 + i * DAY for i in range(7)]
    assert all(b["object"] == "bucket" for b in page["data"])
    assert all(b["end_time"] - b["start_time"] == DAY for b in page["data"])
    assert [len(b["results"]) for b in page["data"]] == [1, 1, 0, 0, 0, 0, 0]
    first = page["data"][0]["results"][0]
    assert first == {
        "object": "organization.usage.completions.result",
        "input_tokens": 300,
        "output_tokens": 30,
        "input_cached_tokens": 50,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": 2,
        "project_id": None,
        "user_id": None,
        "api_key_id": None,
        "model": None,
        "batch": None,
        "provider": None,
        "service_tier": None,
        "num_error_requests": 0,
        "num_unpriced_requests": 0,
        "num_estimated_requests": 0,
        "cost_micro_usd": 2_500_001,
    }
    assert page["data"][1]["results"][0]["num_error_requests"] == 1


@pytest.mark.usefixtures("usage_rows")
async def test_embeddings_usage_counts_only_embeddings(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    page = await get(client, EMBEDDINGS, admin_headers, group_by="model", **WEEK)
    (only,) = results(page)
    assert only["object"] == "organization.usage.embeddings.result"
    assert (only["model"], only["input_tokens"], only["num_model_requests"]) == (
        "text-embedding-3-small",
        800,
        1,
    )
    assert "output_tokens" not in only


@pytest.mark.usefixtures("usage_rows")
@pytest.mark.parametrize("style", ["repeated", "brackets", "commas"])
async def test_group_by_fills_the_grouped_fields(
    client: httpx.AsyncClient, admin_headers: Headers, style: str
) -> None:
    params: list[tuple[str, Any]] = [("start_time", T0), ("end_time", T0 + DAY)]
    if style == "commas":
        params.append(("group_by", "model,project_id"))
    else:
        name = "group_by" if style == "repeated" else "group_by[]"
        params += [(name, "model"), (name, "project_id")]
    response = await client.get(COMPLETIONS, params=params, headers=admin_headers)
    grouped = sorted(results(response.json()), key=lambda r: r["model"])
    assert [(r["model"], r["project_id"], r["api_key_id"]) for r in grouped] == [
        ("gpt-4o", "proj_a", None),
        ("gpt-4o-mini", "proj_a", None),
    ]
    assert [r["input_tokens"] for r in grouped] == [200, 100]


@pytest.mark.usefixtures("usage_rows")
@pytest.mark.parametrize(
    ("params", "input_tokens"),
    [
        ({"project_ids": "proj_b"}, 400),
        ({"project_ids[]": ["proj_a", "proj_b"]}, 700),
        ({"api_key_ids": "key_a"}, 300),
        ({"models": ["gpt-4o"]}, 200),
        ({"models[]": "gpt-4o-mini", "api_key_ids": "key_b"}, 400),
        ({"project_ids": "proj_of_nobody"}, 0),
    ],
)
async def test_filters_narrow_the_sums(
    client: httpx.AsyncClient, admin_headers: Headers, params: dict[str, Any], input_tokens: int
) -> None:
    page = await get(client, COMPLETIONS, admin_headers, **WEEK, **params)
    assert sum(r["input_tokens"] for r in results(page)) == input_tokens


@pytest.mark.usefixtures("usage_rows")
async def test_pages_follow_next_page_to_the_end_without_gaps(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    params: dict[str, Any] = {
        "start_time": T0,
        "end_time": T0 + 2 * DAY + 1,
        "bucket_width": "1h",
        "limit": 20,
    }
    buckets: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = await get(client, COMPLETIONS, admin_headers, **params)
        pages += 1
        buckets += page["data"]
        if not page["has_more"]:
            assert page["next_page"] is None
            break
        params["page"] = page["next_page"]
    assert pages == 3
    assert [b["start_time"] for b in buckets] == [T0 + h * 3600 for h in range(49)]
    assert sum(r["input_tokens"] for b in buckets for r in b["results"]) == 700


@pytest.mark.parametrize("path", [COMPLETIONS, EMBEDDINGS, COSTS])
async def test_pages_of_one_group_each_hold_the_same_results_as_one_page(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: Headers, booted: Bootstrap, path: str
) -> None:
    """A bucket with more groups than a page holds goes on on the next page, in order."""
    calls = [
        row(
            T0 + day * DAY + 60,
            organization_id=booted.organization_id,
            project_id=f"proj_{k % 2}",
            api_key_id=f"key_{k}",
            endpoint=endpoint,
            input_tokens=10 * k + day,
            cost_micro_usd=k + 1,
        )
        for day in range(2)
        for k in range(3)
        for endpoint in ("chat.completions", "embeddings")
    ]
    await insert_rows(app.state.runtime.database, calls)
    params: dict[str, Any] = {**WEEK, "group_by": ["api_key_id", "project_id"]}
    whole = await get(client, path, admin_headers, **params)
    assert whole["has_more"] is False
    app.state.runtime.reports.max_results = 1
    split: list[dict[str, Any]] = []
    while True:
        page = await get(client, path, admin_headers, **params)
        assert len(results(page)) <= 1
        split += page["data"]
        if not page["has_more"]:
            break
        params["page"] = page["next_page"]

    def by_bucket(buckets: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        joined: dict[int, list[dict[str, Any]]] = {}
        for bucket in buckets:
            joined.setdefault(bucket["start_time"], []).extend(bucket["results"])
        return {start: found for start, found in joined.items() if found}

    assert [len(b["results"]) for b in whole["data"]] == [3, 3, 0, 0, 0, 0, 0]
    # a page per group, each bucket split in three, then the five empty days
    assert [len(b["results"]) for b in split] == [1] * 6 + [0] * 5
    assert by_bucket(split) == by_bucket(whole["data"])


@pytest.mark.usefixtures("usage_rows")
async def test_default_limit_returns_a_week_of_days_then_more(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    page = await get(client, COSTS, admin_headers, start_time=T0)
    assert len(page["data"]) == 7
    assert page["has_more"] is True
    assert isinstance(page["next_page"], str)


async def test_costs_sum_the_inserted_micro_usd_exactly(
    client: httpx.AsyncClient, admin_headers: Headers, usage_rows: list[dict[str, Any]]
) -> None:
    page = await get(client, COSTS, admin_headers, **WEEK)
    amounts = [r["amount"] for r in results(page)]
    assert all(r["object"] == "organization.costs.result" for r in results(page))
    mine = [r["cost_micro_usd"] for r in usage_rows if r["organization_id"] != "org_other"]
    assert sum(a["value_micro_usd"] for a in amounts) == sum(mine) == 2_623_474
    assert [a["value"] for a in amounts] == [2.500001, 0.123457, 0.000016]
    assert {a["currency"] for a in amounts} == {"usd"}


@pytest.mark.usefixtures("usage_rows")
async def test_costs_group_by_line_item_and_project(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    page = await get(client, COSTS, admin_headers, group_by=["line_item", "project_id"], **WEEK)
    found = {
        (r["project_id"], r["line_item"]): r["amount"]["value_micro_usd"] for r in results(page)
    }
    assert found == {
        ("proj_a", "gpt-4o-mini"): 1,
        ("proj_a", "gpt-4o"): 2_500_000,
        ("proj_b", "gpt-4o-mini"): 123_457,
        ("proj_a", "text-embedding-3-small"): 16,
    }


@pytest.mark.usefixtures("usage_rows")
async def test_another_organizations_usage_is_invisible(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    for path in (COMPLETIONS, COSTS):
        page = await get(client, path, admin_headers, group_by="project_id", **WEEK)
        assert {r["project_id"] for r in results(page)} == {"proj_a", "proj_b"}
        assert "9999" not in str(page)


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        (COMPLETIONS, {}, "start_time"),
        (COMPLETIONS, {"start_time": "yesterday"}, "start_time"),
        (COMPLETIONS, {"start_time": -1}, "start_time"),
        (COMPLETIONS, {"start_time": 10**13}, "start_time"),
        (COMPLETIONS, {"start_time": T0, "end_time": T0 - 1}, "end_time"),
        (COMPLETIONS, {"start_time": T0, "bucket_width": "5m"}, "bucket_width"),
        (COMPLETIONS, {"start_time": T0, "group_by": "user"}, "group_by"),
        (COMPLETIONS, {"start_time": T0, "group_by": "line_item"}, "group_by"),
        (EMBEDDINGS, {"start_time": T0, "limit": 32}, "limit"),
        (EMBEDDINGS, {"start_time": T0, "limit": "many"}, "limit"),
        (EMBEDDINGS, {"start_time": T0, "page": "%%%"}, "page"),
        (COSTS, {"start_time": T0, "bucket_width": "1h"}, "bucket_width"),
        (COSTS, {"start_time": T0, "group_by": "model"}, "group_by"),
        (COSTS, {"start_time": T0, "limit": 181}, "limit"),
    ],
)
async def test_if_parameter_is_bad_then_4xx_envelope_names_it(
    client: httpx.AsyncClient,
    admin_headers: Headers,
    path: str,
    params: dict[str, Any],
    param: str,
) -> None:
    response = await client.get(path, params=params, headers=admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert param in error["message"]


async def test_costs_accept_up_to_180_days(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    page = await get(client, COSTS, admin_headers, start_time=T0, limit=180)
    assert len(page["data"]) == 180


@pytest.mark.parametrize("path", [COMPLETIONS, EMBEDDINGS, COSTS])
async def test_if_project_key_then_403_and_if_no_key_then_401(
    client: httpx.AsyncClient, api_key: dict[str, Any], path: str
) -> None:
    headers = {"Authorization": f"Bearer {api_key['value']}"}
    assert (await client.get(path, params={"start_time": T0}, headers=headers)).status_code == 403
    assert (await client.get(path, params={"start_time": T0})).status_code == 401

"""Usage and cost reports: the client speaks OpenAI's Administration API shapes.

The wire format is checked against OpenAI's documented example bodies served by an
``httpx.MockTransport`` (what a client of OpenAI would receive); then against a real server.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from keyplane.sdk import Client


def page_of(result: dict[str, Any], *, next_page: str | None = None) -> dict[str, Any]:
    """A report page of one daily bucket holding ``result``, as OpenAI documents it."""
    bucket = {"object": "bucket", "start_time": 1730419200, "end_time": 1730505600}
    return {
        "object": "page",
        "data": [{**bucket, "results": [result]}],
        "has_more": next_page is not None,
        "next_page": next_page,
    }


COMPLETIONS = {
    "object": "organization.usage.completions.result",
    "input_tokens": 1000,
    "output_tokens": 500,
    "input_cached_tokens": 800,
    "num_model_requests": 5,
    "project_id": None,
    "api_key_id": "key_abc",
    "model": "gpt-4o-mini",
    "batch": None,
    "a_field_from_the_future": 1,
}
COSTS = {
    "object": "organization.costs.result",
    "amount": {"value": 0.06, "currency": "usd"},
    "line_item": None,
    "project_id": "proj_1",
}


def serving(pages: dict[str | None, dict[str, Any]], seen: list[httpx.Request]) -> Client:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("page")])

    return Client(
        "http://keyplane.test", "kp_admin_x", env_file=None, transport=httpx.MockTransport(answer)
    )


def test_completions_query_and_result_shapes() -> None:
    seen: list[httpx.Request] = []
    client = serving({None: page_of(COMPLETIONS, next_page="page_2")}, seen)
    start = datetime(2024, 11, 1, tzinfo=UTC)
    page = client.usage.completions(
        start, bucket_width="1d", project_ids=["proj_1", "proj_2"], group_by=["model"], limit=7
    )
    params = seen[0].url.params
    assert seen[0].url.path == "/v1/organization/usage/completions"
    assert params["start_time"] == "1730419200"
    assert params.get_list("project_ids[]") == ["proj_1", "proj_2"]
    assert params.get_list("group_by[]") == ["model"]
    result = page.data[0].results[0]
    assert (result.input_tokens, result.output_tokens, result.input_cached_tokens) == (
        1000,
        500,
        800,
    )
    assert result.model == "gpt-4o-mini" and result.api_key_id == "key_abc"
    assert page.next_cursor == "page_2"


def test_report_iteration_follows_next_page() -> None:
    seen: list[httpx.Request] = []
    pages = {None: page_of(COMPLETIONS, next_page="page_2"), "page_2": page_of(COMPLETIONS)}
    client = serving(pages, seen)
    buckets = list(client.usage.iter_completions(1730419200))
    assert len(buckets) == 2
    assert [r.url.params.get("page") for r in seen] == [None, "page_2"]


def test_costs_shape() -> None:
    client = serving({None: page_of(COSTS)}, [])
    cost = client.usage.costs(1730419200, group_by=["project_id"]).data[0].results[0]
    assert (cost.amount.value, cost.amount.currency, cost.project_id) == (0.06, "usd", "proj_1")


def test_reports_from_a_real_server_parse(admin: Client, project_id: str) -> None:
    start = int(time.time()) - 3 * 86400
    completions = admin.usage.completions(
        start, bucket_width="1d", project_ids=[project_id], group_by=["model"]
    )
    assert completions.data and all(b.end_time > b.start_time for b in completions.data)
    embeddings = list(admin.usage.iter_embeddings(start, limit=1, project_ids=[project_id]))
    assert len(embeddings) >= 3
    costs = list(admin.usage.iter_costs(start, group_by=["project_id"]))
    assert all(r.amount.currency == "usd" for b in costs for r in b.results)

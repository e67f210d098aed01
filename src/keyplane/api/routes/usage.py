"""``/v1/organization/usage/{completions,embeddings}`` and ``/v1/organization/costs``.

Query parameters and answers have the shapes of OpenAI's Administration API. Array
parameters come repeated (``group_by=model&group_by=project_id``) or with brackets
(``group_by[]=model``). Results carry keyplane's extra integer fields beside OpenAI's:
``num_error_requests``, ``num_unpriced_requests``, ``num_estimated_requests`` (calls whose
tokens keyplane counted itself because upstream reported none, such as a stream the client
closed early) and ``cost_micro_usd``, and ``provider`` (the upstream that served the calls,
when grouped by it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Response

from keyplane.api.deps import AdminPrincipal
from keyplane.runtime.deps import ReportsDep
from keyplane.usage.counters import COUNTERS
from keyplane.usage.pages import ReportRequest
from keyplane.usage.reports import Report, Row, UsageKind, UsageReports

router = APIRouter(prefix="/v1/organization", tags=["usage"])

MAX_UNIX = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime can hold
UnixQuery = Query(ge=0, le=MAX_UNIX, description="Unix seconds")
Strings = list[str] | None


def _joined(*lists: Strings) -> list[str]:
    return [value for values in lists for value in values or []]


def report_request(
    start_time: Annotated[int, UnixQuery],
    end_time: Annotated[int | None, UnixQuery] = None,
    bucket_width: str = "1d",
    group_by: Annotated[Strings, Query()] = None,
    group_by_brackets: Annotated[Strings, Query(alias="group_by[]")] = None,
    project_ids: Annotated[Strings, Query()] = None,
    project_ids_brackets: Annotated[Strings, Query(alias="project_ids[]")] = None,
    limit: int | None = None,
    page: str | None = None,
) -> ReportRequest:
    """The parameters every report takes."""
    # Some clients join an array with commas; a group name never holds one.
    groups = [g.strip() for v in _joined(group_by, group_by_brackets) for g in v.split(",")]
    return ReportRequest(
        start_time=start_time,
        end_time=end_time,
        bucket_width=bucket_width,
        group_by=[g for g in groups if g],
        project_ids=_joined(project_ids, project_ids_brackets),
        limit=limit,
        page=page,
    )


ReportParams = Annotated[ReportRequest, Depends(report_request)]


def keyed_request(
    base: ReportParams,
    api_key_ids: Annotated[Strings, Query()] = None,
    api_key_ids_brackets: Annotated[Strings, Query(alias="api_key_ids[]")] = None,
) -> ReportRequest:
    """The costs report's parameters: the common ones and the key filter."""
    return dataclasses.replace(base, api_key_ids=_joined(api_key_ids, api_key_ids_brackets))


KeyedParams = Annotated[ReportRequest, Depends(keyed_request)]


def usage_request(
    base: KeyedParams,
    models: Annotated[Strings, Query()] = None,
    models_brackets: Annotated[Strings, Query(alias="models[]")] = None,
    user_ids: Annotated[Strings, Query()] = None,
    user_ids_brackets: Annotated[Strings, Query(alias="user_ids[]")] = None,
    batch: bool | None = None,
) -> ReportRequest:
    """The usage reports' parameters: the common ones and the key, model and user filters.

    A call's user is the person who owns its key; ``batch=true`` finds nothing, as the
    gateway makes no batch calls.
    """
    return dataclasses.replace(
        base,
        models=_joined(models, models_brackets),
        user_ids=_joined(user_ids, user_ids_brackets),
        batch=batch,
    )


UsageParams = Annotated[ReportRequest, Depends(usage_request)]


# The answer is JSON text made by orjson from plain dicts: a page by key holds tens of
# thousands of results, and FastAPI's validation and encoding of them took longer than the
# database's sums (docs/benchmarks.md, "Scale").
PAGE: dict[int | str, dict[str, Any]] = {
    200: {"description": "A page of buckets", "content": {"application/json": {}}}
}


@router.get("/usage/completions", responses=PAGE)
async def completions_usage(
    principal: AdminPrincipal, reports: ReportsDep, request: UsageParams
) -> Response:
    """Chat completions, completions and responses: requests and tokens per bucket."""
    return await _usage(principal.organization_id, reports, "completions", request)


@router.get("/usage/embeddings", responses=PAGE)
async def embeddings_usage(
    principal: AdminPrincipal, reports: ReportsDep, request: UsageParams
) -> Response:
    """Embeddings: requests and input tokens per bucket."""
    return await _usage(principal.organization_id, reports, "embeddings", request)


@router.get("/costs", responses=PAGE)
async def costs(principal: AdminPrincipal, reports: ReportsDep, request: KeyedParams) -> Response:
    """Daily cost in USD, by project, line item (the model) and/or key."""
    report = await reports.costs(organization_id=principal.organization_id, request=request)
    return _json(page_json(report, "costs"))


async def _usage(
    organization_id: str, reports: UsageReports, kind: UsageKind, request: ReportRequest
) -> Response:
    report = await reports.usage(organization_id=organization_id, kind=kind, request=request)
    return _json(page_json(report, kind))


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


Render = Callable[[Row], dict[str, Any]]


def page_json(report: Report, kind: UsageKind | Literal["costs"]) -> bytes:
    """The JSON of a report's page, as this API answers it."""
    renderer = _RENDERERS[kind]
    data = []
    for bucket in report.buckets:
        render = renderer(bucket.groups)
        data.append(
            {
                "object": "bucket",
                "start_time": bucket.start_time,
                "end_time": bucket.end_time,
                "results": [render(row) for row in bucket.rows],
            }
        )
    return orjson.dumps(
        {"object": "page", "data": data, "has_more": report.has_more, "next_page": report.next_page}
    )


class _Shape:
    """How a result is made from a report's row (grouped values, then ``COUNTERS``): its
    fields in order, with the fixed ones set, the counters and the grouped values taken
    from the row. A group not grouped by is null; as OpenAI has them, an empty user or
    service tier is null too, and batch is false."""

    def __init__(
        self, fields: Mapping[str, Any], counters: Mapping[str, str], groups: Sequence[str]
    ) -> None:
        self.template = dict(fields)
        named = len(groups)
        self.taken = [(field, named + COUNTERS.index(name)) for field, name in counters.items()]
        self.blank: list[tuple[str, int]] = []
        for i, name in enumerate(groups):
            if name not in self.template:
                continue
            if name == "batch":
                self.template[name] = False
            elif name in ("user_id", "service_tier"):
                self.blank.append((name, i))
            else:
                self.taken.append((name, i))

    def __call__(self, row: Row) -> dict[str, Any]:
        found = self.template.copy()
        for field, i in self.taken:
            found[field] = row[i]
        for field, i in self.blank:
            found[field] = row[i] or None
        return found


# keyplane's additions: money stays integer micro-USD.
EXTRAS = {
    "num_error_requests": "error_requests",
    "num_unpriced_requests": "unpriced_requests",
    "num_estimated_requests": "estimated_requests",
    "cost_micro_usd": "cost_micro_usd",
}
COMPLETIONS: Mapping[str, Any] = {
    "object": "organization.usage.completions.result",
    "input_tokens": 0,
    "output_tokens": 0,
    "input_cached_tokens": 0,
    "input_audio_tokens": 0,
    "output_audio_tokens": 0,
    "num_model_requests": 0,
    **dict.fromkeys(("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")),
    "provider": None,
    **dict.fromkeys(EXTRAS, 0),
}
EMBEDDINGS: Mapping[str, Any] = {
    "object": "organization.usage.embeddings.result",
    "input_tokens": 0,
    "num_model_requests": 0,
    **dict.fromkeys(("project_id", "user_id", "api_key_id", "model", "provider")),
    **dict.fromkeys(EXTRAS, 0),
}
COSTS: Mapping[str, Any] = {
    "object": "organization.costs.result",
    "amount": None,
    **dict.fromkeys(("line_item", "project_id", "provider", "api_key_id")),
}


def _completions_results(groups: Sequence[str]) -> Render:
    counters = {
        "input_tokens": "input_tokens",
        "output_tokens": "output_tokens",
        "input_cached_tokens": "cached_tokens",
        "num_model_requests": "requests",
        **EXTRAS,
    }
    return _Shape(COMPLETIONS, counters, groups)


def _embeddings_results(groups: Sequence[str]) -> Render:
    counters = {"input_tokens": "input_tokens", "num_model_requests": "requests", **EXTRAS}
    return _Shape(EMBEDDINGS, counters, groups)


def _cost_results(groups: Sequence[str]) -> Render:
    shape = _Shape(COSTS, {}, groups)
    cost = len(groups) + COUNTERS.index("cost_micro_usd")

    def render(row: Row) -> dict[str, Any]:
        found = shape(row)
        micro = row[cost]
        # True division of integers rounds once: the float prints as the exact 6-place sum.
        found["amount"] = {"value": micro / 1_000_000, "currency": "usd", "value_micro_usd": micro}
        return found

    return render


_RENDERERS: Mapping[str, Callable[[Sequence[str]], Render]] = {
    "completions": _completions_results,
    "embeddings": _embeddings_results,
    "costs": _cost_results,
}

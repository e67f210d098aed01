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
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from keyplane.api.deps import AdminPrincipal
from keyplane.runtime.deps import ReportsDep
from keyplane.usage.reports import Report, ReportRequest, Result, UsageKind, UsageReports

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


@router.get("/usage/completions")
async def completions_usage(
    principal: AdminPrincipal, reports: ReportsDep, request: UsageParams
) -> dict[str, Any]:
    """Chat completions, completions and responses: requests and tokens per bucket."""
    return await _usage(principal.organization_id, reports, "completions", request)


@router.get("/usage/embeddings")
async def embeddings_usage(
    principal: AdminPrincipal, reports: ReportsDep, request: UsageParams
) -> dict[str, Any]:
    """Embeddings: requests and input tokens per bucket."""
    return await _usage(principal.organization_id, reports, "embeddings", request)


@router.get("/costs")
async def costs(
    principal: AdminPrincipal, reports: ReportsDep, request: KeyedParams
) -> dict[str, Any]:
    """Daily cost in USD, by project, line item (the model) and/or key."""
    report = await reports.costs(organization_id=principal.organization_id, request=request)
    return _page(report, _cost_result)


async def _usage(
    organization_id: str, reports: UsageReports, kind: UsageKind, request: ReportRequest
) -> dict[str, Any]:
    report = await reports.usage(organization_id=organization_id, kind=kind, request=request)
    if kind == "completions":
        return _page(report, _completions_result)
    return _page(report, _embeddings_result)


def _page(report: Report, render: Callable[[Result], dict[str, Any]]) -> dict[str, Any]:
    data = [
        {
            "object": "bucket",
            "start_time": bucket.start_time,
            "end_time": bucket.end_time,
            "results": [render(result) for result in bucket.results],
        }
        for bucket in report.buckets
    ]
    return {
        "object": "page",
        "data": data,
        "has_more": report.has_more,
        "next_page": report.next_page,
    }


def _completions_result(result: Result) -> dict[str, Any]:
    totals, group = result.totals, result.group
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "input_cached_tokens": totals.cached_tokens,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": totals.requests,
        "project_id": group.get("project_id"),
        "user_id": group.get("user_id") or None,
        "api_key_id": group.get("api_key_id"),
        "model": group.get("model"),
        "batch": False if "batch" in group else None,
        "service_tier": group.get("service_tier") or None,
        "provider": group.get("provider"),
        **_extras(result),
    }


def _embeddings_result(result: Result) -> dict[str, Any]:
    totals, group = result.totals, result.group
    return {
        "object": "organization.usage.embeddings.result",
        "input_tokens": totals.input_tokens,
        "num_model_requests": totals.requests,
        "project_id": group.get("project_id"),
        "user_id": group.get("user_id") or None,
        "api_key_id": group.get("api_key_id"),
        "model": group.get("model"),
        "provider": group.get("provider"),
        **_extras(result),
    }


def _extras(result: Result) -> dict[str, int]:
    """keyplane's additions: money stays integer micro-USD."""
    totals = result.totals
    return {
        "num_error_requests": totals.error_requests,
        "num_unpriced_requests": totals.unpriced_requests,
        "num_estimated_requests": totals.estimated_requests,
        "cost_micro_usd": totals.cost_micro_usd,
    }


def _cost_result(result: Result) -> dict[str, Any]:
    micro = result.totals.cost_micro_usd
    return {
        "object": "organization.costs.result",
        # True division of integers rounds once, so the float prints as the exact 6-place sum.
        "amount": {"value": micro / 1_000_000, "currency": "usd", "value_micro_usd": micro},
        "line_item": result.group.get("line_item"),
        "project_id": result.group.get("project_id"),
        "provider": result.group.get("provider"),
        "api_key_id": result.group.get("api_key_id"),
    }

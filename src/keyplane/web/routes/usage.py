"""Usage: requests, tokens and cost over a date range, grouped, charted, and as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from keyplane.errors import ValidationFailedError
from keyplane.runtime.deps import KeysDep, NowDep, ProjectsDep, ReportsDep
from keyplane.services.api_keys import KeyService
from keyplane.services.projects import ProjectService
from keyplane.services.sessions import SignedIn
from keyplane.store.models import ApiKey, Project
from keyplane.usage.reports import UsageReports
from keyplane.usage.spreadsheet import safe_cell
from keyplane.web.auth import Viewer
from keyplane.web.charts import PALETTE, Series, bar_chart
from keyplane.web.errors import TAG
from keyplane.web.forms import Form, day_start, parse_day
from keyplane.web.routes.projects import visible_project, visible_projects
from keyplane.web.templating import number, pages_of, usd
from keyplane.web.usage_view import GROUPS, Names, Only, UsageData, day_label, load_usage

router = APIRouter(prefix="/usage", tags=[TAG], include_in_schema=False)
PRESETS = {"1d": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
MAX_DAYS = 366
SHOWN_GROUPS = len(PALETTE) - 1


@dataclass(frozen=True)
class Range:
    start: int
    end: int
    width: str
    first_day: str
    last_day: str


def pick_range(preset: str, start: str, end: str, now: datetime) -> Range:
    """The time range of a preset, or of two dates (inclusive); hourly up to two days."""
    today = day_start(now.date())
    if preset == "1d" or (preset not in PRESETS and not (start or end)):
        until = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        since = until - timedelta(hours=24)
        return Range(
            _unix(since), _unix(until), "1h", since.date().isoformat(), now.date().isoformat()
        )
    if preset in PRESETS:
        days = int(preset.removesuffix("d"))
        since = today - timedelta(days=days - 1)
        return Range(
            _unix(since),
            _unix(today + timedelta(days=1)),
            "1d",
            since.date().isoformat(),
            today.date().isoformat(),
        )
    first = parse_day(start, param="start") or now.date()
    last = parse_day(end, param="end") or now.date()
    if last < first:
        raise ValidationFailedError("The end date must be on or after the start date.", param="end")
    if (last - first).days >= MAX_DAYS:
        raise ValidationFailedError(f"Choose at most {MAX_DAYS} days.", param="end")
    since, until = day_start(first), day_start(last) + timedelta(days=1)
    width = "1h" if (last - first).days < 2 else "1d"
    return Range(_unix(since), _unix(until), width, first.isoformat(), last.isoformat())


@dataclass(frozen=True)
class UsageQuery:
    """The page's query string: a preset or two dates, the grouping, a project or key."""

    range: str = ""
    start: str = ""
    end: str = ""
    group: str = "model"
    project: str = ""
    key: str = ""

    @property
    def grouping(self) -> str:
        return self.group if self.group in GROUPS else "model"

    def encoded(self, **changes: str) -> str:
        given = asdict(self) | changes
        return urlencode({k: v for k, v in given.items() if v})


Query = Annotated[UsageQuery, Depends()]


@dataclass(frozen=True)
class Scope:
    """The project and key the page is narrowed to, if any."""

    project: Project | None = None
    key: ApiKey | None = None

    @property
    def only(self) -> Only | None:
        if self.project is None:
            return None
        return Only(self.project.id, self.key.id if self.key else "")


async def scope_of(projects: ProjectsDep, keys: KeysDep, me: Viewer, query: Query) -> Scope:
    """The filters' project and key; a project this person cannot see is a 404."""
    if not query.project:
        if query.key:
            raise ValidationFailedError("Choose the project of that key as well.", param="project")
        return Scope()
    project = await visible_project(projects, me, query.project)
    if not query.key:
        return Scope(project)
    key = await keys.get(
        organization_id=me.access.organization_id, project_id=project.id, key_id=query.key
    )
    return Scope(project, key)


ScopeDep = Annotated[Scope, Depends(scope_of)]


async def load(
    reports: UsageReports,
    projects: ProjectService,
    keys: KeyService,
    me: SignedIn,
    query: UsageQuery,
    scope: Scope,
    now: datetime,
) -> tuple[Range, UsageData]:
    """The range asked for and its usage, as this person may see it."""
    span = pick_range(query.range, query.start, query.end, now)
    data = await load_usage(
        reports,
        Names(projects, keys),
        me.access,
        start=span.start,
        end=span.end,
        width=span.width,
        group=query.grouping,
        only=scope.only,
    )
    return span, data


@router.get("")
async def usage_page(
    request: Request,
    reports: ReportsDep,
    projects: ProjectsDep,
    keys: KeysDep,
    now: NowDep,
    me: Viewer,
    query: Query,
) -> Response:
    form = Form()
    scope = await form.attempt(scope_of(projects, keys, me, query)) or Scope()
    loaded = None
    if form.ok:
        loaded = await form.attempt(load(reports, projects, keys, me, query, scope, now))
    custom = query.range == "custom" or (
        query.range not in PRESETS and bool(query.start or query.end)
    )
    shown, _ = await visible_projects(projects, me, limit=100)
    if scope.project is not None and scope.project not in shown:
        shown.append(scope.project)  # past the first hundred, the chosen one still shows
    context: dict[str, Any] = {"span": None, "data": None, "totals": None, "charts": None}
    if loaded is not None:
        span, data = loaded
        context = {
            "span": span,
            "data": data,
            "totals": data.total(),
            "charts": _charts(data),
            "colors": dict(
                zip([g for g, _ in data.by_group()[:SHOWN_GROUPS]], PALETTE, strict=False)
            ),
        }
    return pages_of(request).render(
        request,
        "usage.html",
        status=200 if form.ok else 422,
        me=me,
        form=form,
        query=query,
        scope=scope,
        projects=shown,
        preset=query.range if query.range in PRESETS else ("custom" if custom else "1d"),
        presets=PRESETS,
        group=query.grouping,
        groups=list(GROUPS),
        csv_query=query.encoded(),
        **context,
    )


@router.get(".csv")
async def usage_csv(
    reports: ReportsDep,
    projects: ProjectsDep,
    keys: KeysDep,
    now: NowDep,
    me: Viewer,
    query: Query,
    scope: ScopeDep,
) -> Response:
    span, data = await load(reports, projects, keys, me, query, scope, now)
    group = query.grouping
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "start_time",
            "end_time",
            group,
            "label",
            "requests",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "cost_usd",
            "estimated_requests",
        ]
    )
    for bucket, value, sums in data.rows():
        writer.writerow(
            [
                _iso(bucket),
                _iso(bucket + data.width),
                safe_cell(value),
                safe_cell(data.label(value)),
                sums.requests,
                sums.input_tokens,
                sums.output_tokens,
                sums.cached_tokens,
                f"{sums.cost_micro_usd / 1_000_000:.6f}",
                sums.estimated_requests,
            ]
        )
    name = f"keyplane-usage-{span.first_day}-{span.last_day}-by-{group}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _charts(data: UsageData) -> dict[str, object]:
    labels = [day_label(s, data.width) for s in data.starts]
    ranked = [g for g, _ in data.by_group()]
    shown, rest = ranked[:SHOWN_GROUPS], set(ranked[SHOWN_GROUPS:])

    def series(metric: str) -> list[Series]:
        out = []
        for i, group in enumerate(shown):
            values = [_metric(data, s, {group}, metric) for s in data.starts]
            out.append(Series(data.label(group), values, PALETTE[i]))
        if rest:
            values = [_metric(data, s, rest, metric) for s in data.starts]
            out.append(Series("Other", values, PALETTE[-1]))
        return out

    return {
        "requests": bar_chart(labels, series("requests"), title="Requests", fmt=_count),
        "input": bar_chart(labels, series("input"), title="Input tokens", fmt=_count),
        "output": bar_chart(labels, series("output"), title="Output tokens", fmt=_count),
        "cost": bar_chart(labels, series("cost"), title="Cost", fmt=lambda v: usd(int(v))),
    }


def _metric(data: UsageData, start: int, groups: set[str], metric: str) -> float:
    total = 0
    for group in groups:
        sums = data.cells.get((start, group))
        if sums is not None:
            total += {
                "requests": sums.requests,
                "input": sums.input_tokens,
                "output": sums.output_tokens,
                "cost": sums.cost_micro_usd,
            }[metric]
    return float(total)


def _count(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return number(int(value))


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

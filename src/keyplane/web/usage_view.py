"""The Usage page's numbers: the usage reports summed per bucket and group, with labels."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from keyplane.errors import KeyplaneError
from keyplane.services.api_keys import KeyService
from keyplane.services.members import Access
from keyplane.services.projects import ProjectService
from keyplane.usage.counters import UsageCounters
from keyplane.usage.pages import ReportRequest
from keyplane.usage.reports import UsageKind, UsageReports

KINDS: tuple[UsageKind, ...] = ("completions", "embeddings")
GROUPS = {
    "model": "model",
    "key": "api_key_id",
    "project": "project_id",
    "provider": "provider",  # the upstream that served the calls
}
MAX_PAGES = 20


@dataclass
class UsageData:
    """Sums per bucket start and group value; groups ordered by cost, then requests."""

    starts: list[int]
    width: int
    cells: dict[tuple[int, str], UsageCounters] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def add(self, start: int, group: str, totals: UsageCounters) -> None:
        self.cells.setdefault((start, group), UsageCounters()).add(totals)

    def by_group(self) -> list[tuple[str, UsageCounters]]:
        found: dict[str, UsageCounters] = {}
        for (_, group), sums in self.cells.items():
            found.setdefault(group, UsageCounters()).add(sums)
        return sorted(found.items(), key=lambda kv: (-kv[1].cost_micro_usd, -kv[1].requests, kv[0]))

    def total(self) -> UsageCounters:
        out = UsageCounters()
        for sums in self.cells.values():
            out.add(sums)
        return out

    def rows(self) -> Iterator[tuple[int, str, UsageCounters]]:
        for (start, group), sums in sorted(self.cells.items()):
            yield start, group, sums

    def label(self, group: str) -> str:
        return self.labels.get(group, group)


async def load_usage(
    reports: UsageReports,
    names: Names,
    access: Access,
    *,
    start: int,
    end: int,
    width: str,
    group: str,
    only: Only | None = None,
) -> UsageData:
    """Completions and embeddings usage of the range, as this person may see it.

    ``only`` narrows it to one project, or one key of it; the caller checked that this
    person may see them.
    """
    column = GROUPS[group]
    seconds = 3600 if width == "1h" else 86400
    first = start - start % seconds
    data = UsageData(starts=list(range(first, end, seconds)), width=seconds)
    if not access.sees_all_projects and not access.project_ids:
        return data  # a member of no project sees no usage, not everyone's
    projects = () if access.sees_all_projects else tuple(sorted(access.project_ids))
    keys: tuple[str, ...] = ()
    if only is not None:
        projects, keys = (only.project_id,), (only.key_id,) if only.key_id else ()
    extra = ("project_id",) if column == "api_key_id" else ()
    for kind in KINDS:
        page: str | None = None
        for _ in range(MAX_PAGES):
            report = await reports.usage(
                organization_id=access.organization_id,
                kind=kind,
                request=ReportRequest(
                    start_time=start,
                    end_time=end,
                    bucket_width=width,
                    group_by=(column, *extra),
                    project_ids=projects,
                    api_key_ids=keys,
                    limit=168 if width == "1h" else 31,
                    page=page,
                ),
            )
            for bucket in report.buckets:
                for result in bucket.results:
                    value = result.group.get(column, "")
                    data.add(bucket.start_time, value, result.totals)
                    if extra:
                        data.labels.setdefault("@" + value, result.group.get("project_id", ""))
            page = report.next_page
            if page is None:
                break
    await names.label(access, data, group)
    return data


@dataclass(frozen=True, slots=True)
class Only:
    """A filter to one project, or to one key in it."""

    project_id: str
    key_id: str = ""


@dataclass(frozen=True, slots=True)
class Names:
    """Where the labels of project and key ids come from."""

    projects: ProjectService
    keys: KeyService

    async def label(self, access: Access, data: UsageData, group: str) -> None:
        """Names for project and key ids; a deleted or unknown one keeps its id."""
        for value in [g for g, _ in data.by_group()]:
            await self._label(access, data, group, value)

    async def _label(self, access: Access, data: UsageData, group: str, value: str) -> None:
        try:
            if group == "project":
                project = await self.projects.get(
                    organization_id=access.organization_id, project_id=value
                )
                data.labels[value] = project.name
            elif group == "key":
                key = await self.keys.get(
                    organization_id=access.organization_id,
                    project_id=data.labels.get("@" + value, ""),
                    key_id=value,
                )
                data.labels[value] = f"{key.name} ({key.redacted_value})"
        except KeyplaneError:
            return  # the id stays as its own label


def day_label(start: int, width: int) -> str:
    moment = datetime.fromtimestamp(start, UTC)
    return moment.strftime("%H:%M") if width < 86400 else moment.strftime("%b %-d")

"""``keyplane usage``: requests, tokens and cost per model, key or project, with totals."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click

from keyplane.cli.client import AdminClient
from keyplane.cli.context import admin_client
from keyplane.cli.durations import parse_moment
from keyplane.cli.errors import CliUsageError
from keyplane.cli.output import emit_json, table, when
from keyplane.usage.counters import UsageCounters
from keyplane.usage.spreadsheet import safe_cell

REPORTS = ("/v1/organization/usage/completions", "/v1/organization/usage/embeddings")
GROUPS = {"project": "project_id", "key": "api_key_id", "model": "model", "provider": "provider"}
MAX_BUCKETS = {"1m": 1440, "1h": 168, "1d": 31}


# The counters a row shows, in the order of its JSON and CSV records.
SHOWN = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_micro_usd",
    "unpriced_requests",
    "estimated_requests",
)


def _counters_of(result: dict[str, Any]) -> UsageCounters:
    """The counters of one result of a usage report, from the names the API's JSON uses."""
    return UsageCounters(
        requests=result["num_model_requests"],
        input_tokens=result["input_tokens"],
        output_tokens=result.get("output_tokens", 0),
        cached_tokens=result.get("input_cached_tokens", 0),
        cost_micro_usd=result.get("cost_micro_usd", 0),
        unpriced_requests=result.get("num_unpriced_requests", 0),
        estimated_requests=result.get("num_estimated_requests", 0),
    )


def _shown(counts: UsageCounters) -> dict[str, int]:
    return {name: getattr(counts, name) for name in SHOWN}


Key = tuple[int | None, tuple[str | None, ...]]


@click.command()
@click.option("--since", default="7d", show_default=True, help="Start: a date or a duration back.")
@click.option("--until", help="End: a date or a duration back (default: now).")
@click.option(
    "--group-by",
    default="model",
    show_default=True,
    help="Comma-separated: model, key, project, provider; or 'none'.",
)
@click.option(
    "--bucket",
    type=click.Choice(list(MAX_BUCKETS)),
    help="One row per time bucket of this width (default: one row for the whole range).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header row.")
def usage(
    since: str,
    until: str | None,
    group_by: str,
    bucket: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Show requests, input/output/cached tokens and cost, with a totals row."""
    if as_json and as_csv:
        raise CliUsageError("choose one of --json and --csv")
    groups = _group_names(group_by)
    now = datetime.now(UTC)
    start = int(parse_moment(since, option="--since", now=now).timestamp())
    end = int(parse_moment(until, option="--until", now=now).timestamp()) if until else None
    if end is not None and end <= start:
        raise CliUsageError("--until must be later than --since")
    params: dict[str, Any] = {"start_time": start, "end_time": end, "group_by": groups}
    params.update(bucket_width=bucket or "1d", limit=MAX_BUCKETS[bucket or "1d"])
    with admin_client() as client:
        rows = _collect(client, params, groups, per_bucket=bucket is not None)
    ordered = sorted(rows.items(), key=_order(per_bucket=bucket is not None))
    header = (["time"] if bucket else []) + [_label(g) for g in groups]
    if as_json:
        emit_json(_as_json(ordered, header, start, end or int(now.timestamp())))
    elif as_csv:
        _print_csv(ordered, header)
    else:
        _print_table(ordered, header)


def _group_names(text: str) -> list[str]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in GROUPS and n not in GROUPS.values()]
    if unknown:
        raise CliUsageError(
            f"--group-by: unknown {unknown[0]!r}; use model, key, project or provider"
        )
    return list(dict.fromkeys(GROUPS.get(n, n) for n in names))


def _label(group: str) -> str:
    return {"api_key_id": "key", "project_id": "project"}.get(group, group)


def _collect(
    client: AdminClient, params: dict[str, Any], groups: list[str], *, per_bucket: bool
) -> dict[Key, UsageCounters]:
    """Sum the completions and embeddings reports into one row per bucket and group."""
    rows: dict[Key, UsageCounters] = {}
    for path in REPORTS:
        for bucket in _buckets(client, path, params):
            for result in bucket["results"]:
                key = (
                    bucket["start_time"] if per_bucket else None,
                    tuple(result[g] for g in groups),
                )
                rows.setdefault(key, UsageCounters()).add(_counters_of(result))
    return rows


def _buckets(client: AdminClient, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    page: str | None = None
    while True:
        answer = client.get(path, **params, page=page)
        yield from answer["data"]
        if not answer["has_more"]:
            return
        page = answer["next_page"]


def _order(*, per_bucket: bool) -> Any:
    """By time then group when bucketed; the biggest spenders first otherwise."""
    if per_bucket:
        return lambda item: (item[0][0], [v or "" for v in item[0][1]])
    return lambda item: (-item[1].cost_micro_usd, -item[1].requests, [v or "" for v in item[0][1]])


def _totals(rows: list[tuple[Key, UsageCounters]]) -> UsageCounters:
    total = UsageCounters()
    for _, counts in rows:
        total.add(counts)
    return total


def usd(micro: int) -> str:
    """Micro-USD as dollars with six decimals, from integers only."""
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), 1_000_000)
    return f"{sign}{whole}.{fraction:06d}"


def _cells(key: Key, header: list[str]) -> list[Any]:
    moment, group = key
    return ([when(moment)] if "time" in header else []) + list(group)


NUMBERS = ["requests", "input", "output", "cached", "cost_usd"]
ESTIMATED_MARK = "*"


def _numbers(counts: UsageCounters) -> list[str]:
    values = [counts.requests, counts.input_tokens, counts.output_tokens, counts.cached_tokens]
    cells = [f"{v:,}" for v in values] + [usd(counts.cost_micro_usd)]
    if counts.estimated_requests:  # some tokens were counted by keyplane, not upstream
        cells[0] += ESTIMATED_MARK
    return cells


def _print_table(rows: list[tuple[Key, UsageCounters]], header: list[str]) -> None:
    if not rows:
        click.echo("(no usage in this period)")
        return
    total = _totals(rows)
    lines = [_cells(key, header) + _numbers(counts) for key, counts in rows]
    label = ["TOTAL", *[""] * (len(header) - 1)] if header else []
    lines.append(label + _numbers(total))
    table(*_right_aligned(header + NUMBERS, lines, len(header)))
    if total.unpriced_requests:
        click.echo(f"(unpriced models, counted at $0: {total.unpriced_requests:,} requests)")
    if total.estimated_requests:
        click.echo(
            f"({ESTIMATED_MARK} estimated: {total.estimated_requests:,} requests reported no "
            "usage, such as streams cut short; keyplane counted their tokens itself)"
        )


def _right_aligned(
    header: list[str], lines: list[list[Any]], first_number: int
) -> tuple[list[str], list[list[Any]]]:
    """Pad figures and their headings on the left so columns of numbers line up."""
    rows = [header, *lines]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    padded = [
        [str(c).rjust(widths[i]) if i >= first_number else c for i, c in enumerate(row)]
        for row in rows
    ]
    return padded[0], padded[1:]


CSV_COLUMNS = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_usd",
    "cost_micro_usd",
    "unpriced_requests",
    "estimated_requests",
]


def _record(key: Key, counts: UsageCounters, header: list[str]) -> dict[str, Any]:
    record = dict(zip(header, _cells(key, header), strict=True))
    if key[0] is not None:
        record["time"] = datetime.fromtimestamp(key[0], UTC).isoformat()
    record.update(_shown(counts), cost_usd=usd(counts.cost_micro_usd))
    return record


def _print_csv(rows: list[tuple[Key, UsageCounters]], header: list[str]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=header + CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for key, counts in rows:
        record = _record(key, counts, header)
        writer.writerow({name: safe_cell(value) for name, value in record.items()})


def _as_json(
    rows: list[tuple[Key, UsageCounters]], header: list[str], start: int, end: int
) -> dict[str, Any]:
    total = _totals(rows)
    return {
        "start_time": start,
        "end_time": end,
        "rows": [_record(key, counts, header) for key, counts in rows],
        "totals": {**_shown(total), "cost_usd": usd(total.cost_micro_usd)},
    }

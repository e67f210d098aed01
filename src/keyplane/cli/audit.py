"""``keyplane audit``: read the audit log."""

from __future__ import annotations

import click

from keyplane.cli.context import admin_client
from keyplane.cli.durations import parse_moment
from keyplane.cli.output import emit_json, table, when


@click.command()
@click.option(
    "--type",
    "types",
    multiple=True,
    help="Only events of this type, OpenAI's or keyplane's own name (repeatable).",
)
@click.option("--actor", "actors", multiple=True, help="Only events by this actor id.")
@click.option("--target", help="Only events about this object id.")
@click.option("--project", "projects", multiple=True, help="Only events of this project id.")
@click.option("--since", help="Start: a date (2026-01-31) or a duration back (7d).")
@click.option("--until", help="End: a date or a duration back.")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--after", help="Page on from this event id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def audit(
    types: tuple[str, ...],
    actors: tuple[str, ...],
    target: str | None,
    projects: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """Show audit events, newest first."""
    params: dict[str, object] = {"limit": limit, "after": after, "target_id": target}
    if types:
        params["type"] = list(types)
    if actors:
        params["actor_id"] = list(actors)
    if projects:
        params["project_ids[]"] = list(projects)
    if since:
        params["effective_at[gte]"] = int(parse_moment(since, option="--since").timestamp())
    if until:
        params["effective_at[lt]"] = int(parse_moment(until, option="--until").timestamp())
    with admin_client() as client:
        page = client.get("/v1/organization/audit_logs", **params)
    if as_json:
        emit_json(page)
        return
    table(
        ["time", "type", "actor", "target", "ip"],
        [
            [
                when(e["effective_at"]),
                # keyplane's precise name; OpenAI's closest type is ``type`` in --json
                e.get("keyplane_type", e["type"]),
                e["actor"]["label"] or e["actor"].get("keyplane_type", e["actor"]["type"]),
                e["target"]["id"],
                e["actor"]["ip_address"],
            ]
            for e in page["data"]
        ],
    )
    if page["has_more"]:
        click.echo(f"(more: --after {page['last_id']})")

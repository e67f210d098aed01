"""``keyplane model-limits`` and ``keyplane model-permissions``: a project's per-model rules."""

from __future__ import annotations

import click

from keyplane.cli.client import AdminClient
from keyplane.cli.context import admin_client, iter_pages, resolve_project
from keyplane.cli.errors import CliError
from keyplane.cli.flags import requests_per_day
from keyplane.cli.output import emit_json, table

PROJECT = click.option("--project", required=True, help="Project id or exact name.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _project_path(client: AdminClient, project: str, tail: str) -> str:
    project_id = resolve_project(client, project)
    return f"/v1/organization/projects/{project_id}/{tail}"


@click.group("model-limits")
def model_limits() -> None:
    """Per-model rate limits of a project, beside its keys' own limits."""


@model_limits.command("list")
@PROJECT
@JSON
def list_model_limits(project: str, as_json: bool) -> None:
    """The models the project limits (0: no limit on that measure)."""
    with admin_client() as client:
        items = list(iter_pages(client, _project_path(client, project, "rate_limits")))
    if as_json:
        emit_json(items)
        return
    table(
        ["model", "requests/min", "tokens/min", "requests/day (UTC)"],
        [
            [
                r["model"],
                r["max_requests_per_1_minute"] or "-",
                r["max_tokens_per_1_minute"] or "-",
                r["max_requests_per_1_day"] or "-",
            ]
            for r in items
        ],
    )


@model_limits.command("set")
@PROJECT
@click.argument("model")
@click.option("--rpm", type=click.IntRange(min=0), help="Requests per minute (0: none).")
@click.option("--tpm", type=click.IntRange(min=0), help="Tokens per minute (0: none).")
@click.option(
    "--rpd",
    metavar="INTEGER|none",
    callback=lambda _ctx, _param, value: None if value is None else requests_per_day(value),
    help="Requests per UTC calendar day, reset at 00:00 UTC (none: no day limit).",
)
def set_model_limit(
    project: str, model: str, rpm: int | None, tpm: int | None, rpd: int | None
) -> None:
    """Limit MODEL in the project; flags left out keep their value."""
    body = {
        name: value
        for name, value in (
            ("max_requests_per_1_minute", rpm),
            ("max_tokens_per_1_minute", tpm),
            ("max_requests_per_1_day", rpd),
        )
        if value is not None
    }
    if not body:
        raise CliError("give --rpm, --tpm and/or --rpd")
    with admin_client() as client:
        limit = client.request(
            "POST", _project_path(client, project, f"rate_limits/rl-{model}"), json=body
        )
    shown = {k: v or "none" for k, v in limit.items() if k.startswith("max_")}
    click.echo(f"{model}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))


@model_limits.command("clear")
@PROJECT
@click.argument("model")
def clear_model_limit(project: str, model: str) -> None:
    """Remove the project's limits on MODEL."""
    with admin_client() as client:
        client.request("DELETE", _project_path(client, project, f"rate_limits/rl-{model}"))
    click.echo(f"{model}: no per-model limits")


@click.group("model-permissions")
def model_permissions() -> None:
    """Which models a project's keys may call: an allow list or a deny list."""


@model_permissions.command("show")
@PROJECT
@JSON
def show_permissions(project: str, as_json: bool) -> None:
    """Show the project's model list."""
    with admin_client() as client:
        found = client.get(_project_path(client, project, "model_permissions"))
    if as_json:
        emit_json(found)
        return
    if not found.get("enabled", bool(found["model_ids"])):
        click.echo("every model is allowed (no list)")
        return
    verb = "only" if found["mode"] == "allow_list" else "all but"
    click.echo(f"{found['mode']}: {verb} {', '.join(found['model_ids']) or '(none)'}")


def _set(project: str, mode: str, models: tuple[str, ...]) -> None:
    with admin_client() as client:
        client.request(
            "POST",
            _project_path(client, project, "model_permissions"),
            json={"mode": mode, "model_ids": list(models)},
        )
    click.echo(f"{mode}: {', '.join(models) or '(none)'}")


@model_permissions.command("allow")
@PROJECT
@click.argument("models", nargs=-1, required=True)
def allow(project: str, models: tuple[str, ...]) -> None:
    """Allow only MODELS (a trailing * matches a prefix)."""
    _set(project, "allow_list", models)


@model_permissions.command("deny")
@PROJECT
@click.argument("models", nargs=-1, required=True)
def deny(project: str, models: tuple[str, ...]) -> None:
    """Allow every model but MODELS (a trailing * matches a prefix)."""
    _set(project, "deny_list", models)


@model_permissions.command("clear")
@PROJECT
def clear_permissions(project: str) -> None:
    """Remove the list: every model is allowed again."""
    with admin_client() as client:
        client.request("DELETE", _project_path(client, project, "model_permissions"))
    click.echo("every model is allowed (no list)")

"""``keyplane projects list|create|show|rename|archive``."""

from __future__ import annotations

from typing import Any

import click

from keyplane.cli.context import admin_client, iter_pages, project_of, resolve_project
from keyplane.cli.errors import CliError
from keyplane.cli.limits import limit_options, limits_body, limits_lines
from keyplane.cli.output import confirm, emit_json, table, when

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group()
def projects() -> None:
    """Manage projects."""


@projects.command("list")
@click.option("--all", "include_archived", is_flag=True, help="Include archived projects.")
@json_option
def list_projects(include_archived: bool, as_json: bool) -> None:
    """List projects."""
    with admin_client() as client:
        items = list(
            iter_pages(
                client,
                "/v1/organization/projects",
                include_archived=str(include_archived).lower(),
            )
        )
    if as_json:
        emit_json(items)
        return
    table(
        ["id", "name", "status", "created"],
        [[p["id"], p["name"], p["status"], when(p["created_at"])] for p in items],
    )


@projects.command("create")
@click.argument("name")
@json_option
def create_project(name: str, as_json: bool) -> None:
    """Create a project called NAME."""
    with admin_client() as client:
        project = client.request("POST", "/v1/organization/projects", json={"name": name})
    _show(project, as_json)


@projects.command("show")
@click.argument("project")
@json_option
def show_project(project: str, as_json: bool) -> None:
    """Show a project (by id or name)."""
    with admin_client() as client:
        shown = client.get(f"/v1/organization/projects/{resolve_project(client, project)}")
    _show(shown, as_json)


@projects.command("rename")
@click.argument("project")
@click.argument("name")
@json_option
def rename_project(project: str, name: str, as_json: bool) -> None:
    """Rename a project (by id or name) to NAME."""
    with admin_client() as client:
        project_id = resolve_project(client, project)
        shown = client.request(
            "POST", f"/v1/organization/projects/{project_id}", json={"name": name}
        )
    _show(shown, as_json)


@projects.command("update")
@click.argument("project")
@click.option("--name", help="New name.")
@limit_options
@json_option
def update_project(project: str, name: str | None, as_json: bool, **flags: Any) -> None:
    """Change a project's name, rate limits or budget (by id or name)."""
    with admin_client() as client:
        project_id = resolve_project(client, project)
        current = client.get(f"/v1/organization/projects/{project_id}")
        body = limits_body(flags, current=current)
        if name is not None:
            body["name"] = name
        if not body:
            raise CliError("nothing to change; see 'keyplane projects update --help'")
        shown = client.request("POST", f"/v1/organization/projects/{project_id}", json=body)
    _show(shown, as_json)


@projects.command("archive")
@click.argument("project")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def archive_project(project: str, yes: bool, as_json: bool) -> None:
    """Archive a project (by id or name); its keys stop working at once.

    Asks first, unless --yes or --json.
    """
    with admin_client() as client:
        found = project_of(client, project)
        if found["status"] == "archived":
            shown = found
        else:
            confirm(
                f"Archive project {found['name']!r} ({found['id']})? "
                "Calls with any of its keys will fail at once",
                yes=yes or as_json,
                refused=f"project {found['id']} was not archived",
            )
            shown = client.request("POST", f"/v1/organization/projects/{found['id']}/archive")
    if as_json:
        emit_json({**shown, "already_archived": found["status"] == "archived"})
    elif found["status"] == "archived":
        click.echo(
            f"project {found['id']} was already archived on {when(found['archived_at'])}; "
            "nothing changed"
        )
    else:
        _show(shown, as_json)


def _show(project: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(project)
        return
    for label, value in (
        ("id", project["id"]),
        ("name", project["name"]),
        ("status", project["status"]),
        ("created", when(project["created_at"])),
        ("archived", when(project["archived_at"])),
        *limits_lines(project),
    ):
        click.echo(f"{label + ':':10} {value}")

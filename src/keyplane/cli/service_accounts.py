"""``keyplane service-accounts list|create|show|rename|delete|add-key``."""

from __future__ import annotations

from typing import Any

import click

from keyplane.cli.context import admin_client, iter_pages, resolve_project
from keyplane.cli.durations import parse_duration
from keyplane.cli.output import emit_json, table, when

PROJECT = click.option("--project", required=True, help="Project id or exact name.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _base(project_id: str) -> str:
    return f"/v1/organization/projects/{project_id}/service_accounts"


def _lifetime(expires_in: str | None) -> dict[str, Any]:
    if expires_in is None:
        return {}
    seconds = int(parse_duration(expires_in, option="--expires-in").total_seconds())
    return {"expires_in_seconds": seconds}


def _show_secret(key: dict[str, Any]) -> None:
    click.echo(f"key {key['id']} ({key['name']})")
    click.echo("secret (shown once; store it now):")
    click.echo(f"  {key['value']}")


@click.group("service-accounts")
def service_accounts() -> None:
    """Manage a project's service accounts and their keys."""


@service_accounts.command("list")
@PROJECT
@JSON
def list_accounts(project: str, as_json: bool) -> None:
    """List a project's service accounts."""
    with admin_client() as client:
        items = list(iter_pages(client, _base(resolve_project(client, project))))
    if as_json:
        emit_json(items)
        return
    table(
        ["id", "name", "role", "created"],
        [[a["id"], a["name"], a["role"], when(a["created_at"])] for a in items],
    )


@service_accounts.command("create")
@PROJECT
@click.option("--name", required=True)
@click.option("--no-key", is_flag=True, help="Create the account without a first key.")
@click.option("--expires-in", help="The first key's lifetime, e.g. 30d.")
@JSON
def create_account(
    project: str, name: str, no_key: bool, expires_in: str | None, as_json: bool
) -> None:
    """Create a service account; its first key's secret is shown once."""
    body: dict[str, Any] = {"name": name, **_lifetime(expires_in)}
    if no_key:
        body["create_service_account_only"] = True
    with admin_client() as client:
        created = client.request("POST", _base(resolve_project(client, project)), json=body)
    if as_json:
        emit_json(created)
        return
    click.echo(f"created service account {created['id']} ({created['name']})")
    if created.get("api_key"):
        _show_secret(created["api_key"])


@service_accounts.command("show")
@PROJECT
@click.argument("account_id")
@JSON
def show_account(project: str, account_id: str, as_json: bool) -> None:
    """Show a service account and the keys it owns."""
    with admin_client() as client:
        project_id = resolve_project(client, project)
        account = client.get(f"{_base(project_id)}/{account_id}")
        keys = [
            k
            for k in iter_pages(client, f"/v1/organization/projects/{project_id}/api_keys")
            if (k["owner"].get("service_account") or {}).get("id") == account_id
        ]
    if as_json:
        emit_json({**account, "api_keys": keys})
        return
    click.echo(f"{account['id']}  {account['name']}  role {account['role']}")
    table(
        ["key", "name", "redacted", "created", "last used"],
        [
            [
                k["id"],
                k["name"],
                k["redacted_value"],
                when(k["created_at"]),
                when(k["last_used_at"]),
            ]
            for k in keys
        ],
    )


@service_accounts.command("rename")
@PROJECT
@click.argument("account_id")
@click.option("--name", required=True)
def rename_account(project: str, account_id: str, name: str) -> None:
    """Rename a service account."""
    with admin_client() as client:
        path = f"{_base(resolve_project(client, project))}/{account_id}"
        client.request("POST", path, json={"name": name})
    click.echo(f"renamed {account_id} to {name}")


@service_accounts.command("add-key")
@PROJECT
@click.argument("account_id")
@click.option("--name", default="service account key", show_default=True)
@click.option("--scope", "scopes", multiple=True, help="Restrict the key to this scope.")
@click.option("--expires-in", help="The key's lifetime, e.g. 90d.")
@JSON
def add_key(
    project: str,
    account_id: str,
    name: str,
    scopes: tuple[str, ...],
    expires_in: str | None,
    as_json: bool,
) -> None:
    """Give a service account another key; its secret is shown once."""
    body: dict[str, Any] = {"name": name, **_lifetime(expires_in)}
    if scopes:
        body["scopes"] = list(scopes)
    with admin_client() as client:
        path = f"{_base(resolve_project(client, project))}/{account_id}/api_keys"
        created = client.request("POST", path, json=body)
    if as_json:
        emit_json(created)
        return
    _show_secret(created)


@service_accounts.command("delete")
@PROJECT
@click.argument("account_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_account(project: str, account_id: str, yes: bool) -> None:
    """Delete a service account; every key it owns is revoked at once."""
    if not yes:
        click.confirm(f"Delete service account {account_id} and revoke its keys?", abort=True)
    with admin_client() as client:
        client.request("DELETE", f"{_base(resolve_project(client, project))}/{account_id}")
    click.echo(f"deleted {account_id}; its keys are revoked")

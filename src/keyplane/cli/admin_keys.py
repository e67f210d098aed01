"""``keyplane admin-keys list|create|revoke``."""

from __future__ import annotations

import click

from keyplane.cli.context import admin_client, iter_pages
from keyplane.cli.durations import parse_duration
from keyplane.cli.output import emit_json, table, when


@click.group("admin-keys")
def admin_keys() -> None:
    """Manage admin keys."""


@admin_keys.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_admin_keys(as_json: bool) -> None:
    """List admin keys."""
    with admin_client() as client:
        items = list(iter_pages(client, "/v1/organization/admin_api_keys"))
    if as_json:
        emit_json(items)
        return
    table(
        ["id", "name", "key", "created", "expires", "last used"],
        [
            [
                k["id"],
                k["name"],
                k["redacted_value"],
                when(k["created_at"]),
                when(k.get("expires_at")),
                when(k["last_used_at"]),
            ]
            for k in items
        ],
    )


@admin_keys.command("create")
@click.option("--name", required=True)
@click.option("--expires-in", help="Lifetime, e.g. 30d; the key is refused afterwards.")
@click.option("--json", "as_json", is_flag=True)
def create_admin_key(name: str, expires_in: str | None, as_json: bool) -> None:
    """Create an admin key; its secret is shown once."""
    body: dict[str, object] = {"name": name}
    if expires_in is not None:
        lifetime = parse_duration(expires_in, option="--expires-in")
        body["expires_in_seconds"] = int(lifetime.total_seconds())
    with admin_client() as client:
        created = client.request("POST", "/v1/organization/admin_api_keys", json=body)
    if as_json:
        emit_json(created)
        return
    click.echo(f"created {created['id']} ({created['name']})")
    click.echo("secret (shown once; store it now):")
    click.echo(f"  {created['value']}")


@admin_keys.command("revoke")
@click.argument("key_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def revoke_admin_key(key_id: str, yes: bool) -> None:
    """Revoke an admin key."""
    if not yes:
        click.confirm(f"Revoke admin key {key_id}?", abort=True)
    with admin_client() as client:
        client.request("DELETE", f"/v1/organization/admin_api_keys/{key_id}")
    click.echo(f"revoked {key_id}")

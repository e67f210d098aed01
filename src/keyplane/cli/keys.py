"""``keyplane keys create|list|show|update|rotate|revoke``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from keyplane.cli.context import (
    admin_client,
    find_key_project,
    iter_pages,
    project_of,
    resolve_project,
)
from keyplane.cli.durations import parse_duration, parse_moment
from keyplane.cli.envfile import write_env_var
from keyplane.cli.errors import CliError
from keyplane.cli.flags import check_key_fields
from keyplane.cli.limits import (
    any_limit_flag,
    limit_options,
    limits_body,
    limits_lines,
    pop_limit_flags,
)
from keyplane.cli.output import confirm, emit_json, table, when

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
project_option = click.option("--project", "-p", help="Project id or name.")


def _field_options(function: Any) -> Any:
    """Options shared by ``create`` and ``update``."""
    options = [
        click.option(
            "--permissions",
            type=click.Choice(["all", "read_only", "restricted"]),
            help="What the key may do.",
        ),
        click.option("--scope", "scopes", multiple=True, help="A scope for restricted keys."),
        click.option("--model", "models", multiple=True, help="Allowed model (repeatable)."),
        click.option("--allow-ip", "ips", multiple=True, help="Allowed IP or CIDR (repeatable)."),
        click.option("--expires-in", help="Expire after a duration, e.g. 30d."),
        click.option("--expires-at", help="Expire at a date/time (UTC unless given)."),
        click.option("--metadata", "metadata", multiple=True, help="KEY=VALUE (repeatable)."),
    ]
    for option in reversed(options):
        function = option(function)
    return limit_options(function)


@click.group()
def keys() -> None:
    """Manage project API keys."""


@keys.command("create")
@project_option
@click.option("--name", required=True, help="A name that says who or what uses the key.")
@click.option("--service-account", is_flag=True, help="Issue a service-account key (kp_svc_).")
@_field_options
@click.option("--disabled", is_flag=True, help="Create the key disabled.")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the key into this .env file instead of printing it.",
)
@click.option(
    "--env-var",
    default="OPENAI_API_KEY",
    show_default=True,
    help="Variable name to use with --env-file.",
)
@json_option
def create_key(
    project: str | None,
    name: str,
    service_account: bool,
    disabled: bool,
    env_file: Path | None,
    env_var: str,
    as_json: bool,
    **fields: Any,
) -> None:
    """Create a key. Its secret is shown once (or written to --env-file)."""
    body = limits_body(pop_limit_flags(fields), current=None)
    body |= _fields_body(**fields)
    body.update(name=name, kind="service_account" if service_account else "project")
    check_key_fields(body)
    if disabled:
        body["enabled"] = False
    with admin_client() as client:
        project_id = resolve_project(client, project or "Default project")
        created = client.request(
            "POST", f"/v1/organization/projects/{project_id}/api_keys", json=body
        )
    secret = created.pop("value")
    if env_file is not None:
        _write_env(env_file, env_var, secret, created)
        return
    if as_json:
        emit_json({**created, "value": secret})
        return
    _show(created)
    click.echo("")
    click.echo("secret (shown once; store it now, e.g. in .env, never in code):")
    click.echo(f"  {secret}")


@keys.command("list")
@project_option
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@json_option
def list_keys(project: str | None, include_revoked: bool, as_json: bool) -> None:
    """List the keys of a project."""
    with admin_client() as client:
        listed = project_of(client, project or "Default project")
        items = list(
            iter_pages(
                client,
                f"/v1/organization/projects/{listed['id']}/api_keys",
                include_revoked=str(include_revoked).lower(),
            )
        )
    if as_json:
        emit_json(items)
        return
    which = "keys" if include_revoked else "keys (without revoked ones; --all shows them)"
    archived = ", archived" if listed["status"] == "archived" else ""
    click.echo(f"{which} of project {listed['name']!r} ({listed['id']}{archived}):")
    table(
        ["id", "name", "key", "permissions", "status", "created", "last used", "expires"],
        [
            [
                k["id"],
                k["name"],
                k["redacted_value"],
                k["permissions"]["mode"],
                k["status"],
                when(k["created_at"]),
                when(k["last_used_at"]),
                when(k["expires_at"]),
            ]
            for k in items
        ],
    )


@keys.command("show")
@click.argument("key_id")
@project_option
@json_option
def show_key(key_id: str, project: str | None, as_json: bool) -> None:
    """Show one key."""
    with admin_client() as client:
        project_id = find_key_project(client, key_id, project)
        key = client.get(f"/v1/organization/projects/{project_id}/api_keys/{key_id}")
    emit_json(key) if as_json else _show(key)


@keys.command("update")
@click.argument("key_id")
@project_option
@click.option("--name", help="New name.")
@_field_options
@click.option("--no-expiry", is_flag=True, help="Remove the expiry.")
@click.option("--enable/--disable", "enabled", default=None, help="Turn the key on or off.")
@json_option
def update_key(
    key_id: str,
    project: str | None,
    name: str | None,
    no_expiry: bool,
    enabled: bool | None,
    as_json: bool,
    **fields: Any,
) -> None:
    """Change a key's name, permissions, models, IPs, expiry, metadata, limits or state."""
    limit_flags = pop_limit_flags(fields)
    body = _fields_body(**fields)
    if name is not None:
        body["name"] = name
    if no_expiry:
        body["expires_at"] = None
    if enabled is not None:
        body["enabled"] = enabled
    check_key_fields(body)
    with admin_client() as client:
        project_id = find_key_project(client, key_id, project)
        if any_limit_flag(limit_flags):
            current = client.get(f"/v1/organization/projects/{project_id}/api_keys/{key_id}")
            body |= limits_body(limit_flags, current=current)
        if not body:
            raise CliError("nothing to change; see 'keyplane keys update --help'")
        key = client.request(
            "POST", f"/v1/organization/projects/{project_id}/api_keys/{key_id}", json=body
        )
    emit_json(key) if as_json else _show(key)


@keys.command("rotate")
@click.argument("key_id")
@project_option
@click.option(
    "--grace",
    default="0s",
    show_default=True,
    help="How long the old secret keeps working, e.g. 1h.",
)
@click.option("--idempotency-key", help="Retry-safe: the same value rotates once.")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the new key into this .env file instead of printing it.",
)
@click.option("--env-var", default="OPENAI_API_KEY", show_default=True)
@json_option
def rotate_key(
    key_id: str,
    project: str | None,
    grace: str,
    idempotency_key: str | None,
    env_file: Path | None,
    env_var: str,
    as_json: bool,
) -> None:
    """Issue a new secret for a key; the old one works for --grace."""
    seconds = int(parse_duration(grace, option="--grace").total_seconds())
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    with admin_client() as client:
        project_id = find_key_project(client, key_id, project)
        rotated = client.request(
            "POST",
            f"/v1/organization/projects/{project_id}/api_keys/{key_id}/rotate",
            json={"grace_period_seconds": seconds},
            headers=headers,
        )
    secret = rotated.pop("value")
    if env_file is not None:
        _write_env(env_file, env_var, secret, rotated)
        return
    if as_json:
        emit_json({**rotated, "value": secret})
        return
    click.echo(f"rotated {key_id}; the old secret works for {grace}.")
    click.echo("new secret (shown once; store it now):")
    click.echo(f"  {secret}")


@keys.command("revoke")
@click.argument("key_id")
@project_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def revoke_key(key_id: str, project: str | None, yes: bool, as_json: bool) -> None:
    """Revoke a key at once (asks first, unless --yes or --json)."""
    with admin_client() as client:
        project_id = find_key_project(client, key_id, project)
        path = f"/v1/organization/projects/{project_id}/api_keys/{key_id}"
        key = client.get(path)
        before = key["status"]
        if before != "revoked":
            confirm(
                f"Revoke {key_id} ({key['name']}, {key['redacted_value']})? "
                "Calls with it will fail at once",
                yes=yes or as_json,
                refused=f"{key_id} was not revoked",
            )
        result = client.request("DELETE", path)  # revoking again changes nothing
    if as_json:
        emit_json({**result, "already_revoked": before == "revoked"})
    elif before == "revoked":
        click.echo(f"{key_id} was already revoked on {when(key['revoked_at'])}; nothing changed")
    else:
        click.echo(f"revoked {key_id}")


def _fields_body(
    permissions: str | None,
    scopes: tuple[str, ...],
    models: tuple[str, ...],
    ips: tuple[str, ...],
    expires_in: str | None,
    expires_at: str | None,
    metadata: tuple[str, ...],
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if permissions is not None or scopes:
        mode = permissions or "restricted"
        body["permissions"] = {"mode": mode, "scopes": list(scopes)}
    if models:
        body["allowed_models"] = list(models)
    if ips:
        body["allowed_ips"] = list(ips)
    if expires_in and expires_at:
        raise CliError("give --expires-in or --expires-at, not both")
    if expires_in:
        moment = datetime.now(UTC) + parse_duration(expires_in, option="--expires-in")
        body["expires_at"] = int(moment.timestamp())
    elif expires_at:
        body["expires_at"] = int(parse_moment(expires_at, option="--expires-at").timestamp())
    if metadata:
        body["metadata"] = dict(_pair(item) for item in metadata)
    return body


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise CliError(f"--metadata: expected KEY=VALUE, got {item!r}")
    return key, value


def _write_env(path: Path, name: str, secret: str, key: dict[str, Any]) -> None:
    result = write_env_var(path, name, secret)
    verb = "replaced" if result.replaced else "added"
    click.echo(f"{key['id']} ({key['redacted_value']}): {verb} {name} in {path}")
    if result.gitignore is not None:
        click.echo(f"added {path.name} to {result.gitignore}")
    if result.loose_mode:
        click.echo(f"warning: {path} is readable by others; run: chmod 600 {path}", err=True)


def _show(key: dict[str, Any]) -> None:
    rows = [
        ("id", key["id"]),
        ("name", key["name"]),
        ("key", key["redacted_value"]),
        ("kind", key["kind"]),
        ("project", key["project_id"]),
        ("status", key["status"]),
        ("permissions", _permissions(key["permissions"])),
        ("models", ", ".join(key["allowed_models"]) or "all"),
        ("ips", ", ".join(key["allowed_ips"]) or "any"),
        ("created", when(key["created_at"])),
        ("last used", when(key["last_used_at"])),
        ("expires", when(key["expires_at"])),
        ("metadata", ", ".join(f"{k}={v}" for k, v in key["metadata"].items()) or "-"),
        *limits_lines(key),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':13} {value}")


def _permissions(permissions: dict[str, Any]) -> str:
    if permissions["mode"] == "restricted":
        return "restricted: " + ", ".join(permissions["scopes"])
    return str(permissions["mode"])

"""``keyplane webhook show|set URL|clear|rotate-secret``: the organisation's signed webhook."""

from __future__ import annotations

from typing import Any

import click

from keyplane.cli.context import admin_client
from keyplane.cli.output import emit_json

PATH = "/v1/organization/webhook"


@click.group("webhook")
def webhook() -> None:
    """Where keyplane POSTs signed events (leaked keys, budget alerts)."""


@webhook.command("show")
@click.option("--json", "as_json", is_flag=True)
def show_webhook(as_json: bool) -> None:
    """Show the webhook URL and a hint of its signing secret."""
    with admin_client() as client:
        _print(client.request("GET", PATH), as_json)


@webhook.command("set")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True)
def set_webhook(url: str, as_json: bool) -> None:
    """Send events to URL; the first time, a signing secret is made and shown once."""
    with admin_client() as client:
        _print(client.request("POST", PATH, json={"url": url}), as_json)


@webhook.command("clear")
def clear_webhook() -> None:
    """Stop sending events; the signing secret is deleted too."""
    with admin_client() as client:
        client.request("DELETE", PATH)
    click.echo("webhook cleared")


@webhook.command("rotate-secret")
@click.option("--json", "as_json", is_flag=True)
def rotate_secret(as_json: bool) -> None:
    """Replace the signing secret; the new one is shown once and signs from now on."""
    with admin_client() as client:
        _print(client.request("POST", f"{PATH}/rotate_secret"), as_json)


def _print(webhook: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(webhook)
        return
    if webhook["url"] is None:
        click.echo("no webhook; set one with: keyplane webhook set URL")
        return
    click.echo(f"url:    {webhook['url']}")
    click.echo(f"secret: {webhook['secret_hint']}")
    if webhook.get("secret"):
        click.echo("signing secret (shown once; store it now):")
        click.echo(f"  {webhook['secret']}")

"""``keyplane spend-limit`` and ``keyplane spend-alerts``, of the organisation or a project.

Amounts are US dollars on the command line (cents on the wire, as OpenAI counts them). A
spend limit is a monthly budget; alerts are percentages of it, sent to the webhook.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import click

from keyplane.cli.client import AdminClient
from keyplane.cli.context import admin_client, iter_pages, resolve_project
from keyplane.cli.errors import CliUsageError
from keyplane.cli.output import emit_json, table

PROJECT = click.option("--project", help="Project id or exact name; the organisation if left out.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _base(client: AdminClient, project: str | None, tail: str) -> str:
    if project is None:
        return f"/v1/organization/{tail}"
    return f"/v1/organization/projects/{resolve_project(client, project)}/{tail}"


def cents(usd: str, *, option: str) -> int:
    try:
        amount = Decimal(usd) * 100
    except InvalidOperation:
        raise CliUsageError(
            f"{option}: expected US dollars like 250 or 12.50, got {usd!r}"
        ) from None
    if amount != amount.to_integral_value() or amount < 0:
        raise CliUsageError(f"{option}: whole cents, at least 0, please (got {usd!r})")
    return int(amount)


def dollars(amount_cents: int) -> str:
    return f"${Decimal(amount_cents) / 100:,.2f}"


@click.group("spend-limit")
def spend_limit() -> None:
    """The monthly spend limit of the organisation or of a project."""


@spend_limit.command("show")
@PROJECT
@JSON
def show_limit(project: str | None, as_json: bool) -> None:
    """Show the spend limit."""
    with admin_client() as client:
        found = client.get(_base(client, project, "spend_limit"))
    if as_json:
        emit_json(found)
        return
    if found["enforcement"]["status"] != "enforcing":
        click.echo("no spend limit")
        return
    click.echo(f"{dollars(found['threshold_amount'])} per {found['interval']}, enforced")


@spend_limit.command("set")
@PROJECT
@click.argument("usd")
def set_limit(project: str | None, usd: str) -> None:
    """Refuse calls once USD is spent this month."""
    body = {"threshold_amount": cents(usd, option="USD"), "currency": "USD", "interval": "month"}
    with admin_client() as client:
        found = client.request("POST", _base(client, project, "spend_limit"), json=body)
    click.echo(f"spend limit {dollars(found['threshold_amount'])} per month")


@spend_limit.command("clear")
@PROJECT
def clear_limit(project: str | None) -> None:
    """Remove the spend limit (and its alerts)."""
    with admin_client() as client:
        client.request("DELETE", _base(client, project, "spend_limit"))
    click.echo("no spend limit")


@click.group("spend-alerts")
def spend_alerts() -> None:
    """Alerts at amounts of the spend limit, sent to the organisation's webhook."""


@spend_alerts.command("list")
@PROJECT
@JSON
def list_alerts(project: str | None, as_json: bool) -> None:
    """List the spend alerts."""
    with admin_client() as client:
        items = list(iter_pages(client, _base(client, project, "spend_alerts")))
    if as_json:
        emit_json(items)
        return
    table(
        ["id", "at", "percent of limit"],
        [
            [a["id"], dollars(a["threshold_amount"]), f"{a.get('threshold_percent', '?')}%"]
            for a in items
        ],
    )


@spend_alerts.command("add")
@PROJECT
@click.argument("usd")
def add_alert(project: str | None, usd: str) -> None:
    """Alert once USD of this month's limit is spent."""
    body: dict[str, Any] = {
        "threshold_amount": cents(usd, option="USD"),
        "currency": "USD",
        "interval": "month",
        "notification_channel": {"type": "email", "recipients": []},
    }
    with admin_client() as client:
        made = client.request("POST", _base(client, project, "spend_alerts"), json=body)
    click.echo(f"alert {made['id']} at {dollars(made['threshold_amount'])}")


@spend_alerts.command("remove")
@PROJECT
@click.argument("alert_id")
def remove_alert(project: str | None, alert_id: str) -> None:
    """Remove a spend alert."""
    with admin_client() as client:
        client.request("DELETE", _base(client, project, f"spend_alerts/{alert_id}"))
    click.echo(f"removed {alert_id}")

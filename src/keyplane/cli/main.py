"""The ``keyplane`` command."""

from __future__ import annotations

import sys

import click

from keyplane import __version__
from keyplane.cli.admin_keys import admin_keys
from keyplane.cli.audit import audit
from keyplane.cli.keys import keys
from keyplane.cli.model_access import model_limits, model_permissions
from keyplane.cli.projects import projects
from keyplane.cli.scan import doctor_command, scan_command
from keyplane.cli.server import init, serve
from keyplane.cli.service_accounts import service_accounts
from keyplane.cli.spend import spend_alerts, spend_limit
from keyplane.cli.usage import usage
from keyplane.cli.webhook import webhook


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keyplane")
def cli() -> None:
    """keyplane: issue, scope, limit, meter, rotate and revoke API keys."""


for command in (
    serve,
    init,
    projects,
    keys,
    admin_keys,
    audit,
    usage,
    webhook,
    scan_command,
    doctor_command,
):
    cli.add_command(command)
# OpenAI's admin resources over keyplane's model (docs/openai-admin.md).
for command in (service_accounts, model_limits, model_permissions, spend_limit, spend_alerts):
    cli.add_command(command)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)

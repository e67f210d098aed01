"""The ``keyplane`` command."""

from __future__ import annotations

import importlib
import sys

import click

from keyplane import __version__

# Each command is imported only when it runs (``--help`` imports them all): a pre-commit
# ``keyplane scan`` must not pay for the server's imports. Name -> "module:attribute".
COMMANDS = {
    "serve": "keyplane.cli.server:serve",
    "init": "keyplane.cli.server:init",
    "projects": "keyplane.cli.projects:projects",
    "keys": "keyplane.cli.keys:keys",
    "admin-keys": "keyplane.cli.admin_keys:admin_keys",
    "audit": "keyplane.cli.audit:audit",
    "usage": "keyplane.cli.usage:usage",
    "upstreams": "keyplane.cli.upstreams:upstreams",
    "webhook": "keyplane.cli.webhook:webhook",
    "scan": "keyplane.cli.scan:scan_command",
    "doctor": "keyplane.cli.scan:doctor_command",
    # OpenAI's admin resources over keyplane's model (docs/openai-admin.md).
    "service-accounts": "keyplane.cli.service_accounts:service_accounts",
    "model-limits": "keyplane.cli.model_access:model_limits",
    "model-permissions": "keyplane.cli.model_access:model_permissions",
    "spend-limit": "keyplane.cli.spend:spend_limit",
    "spend-alerts": "keyplane.cli.spend:spend_alerts",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keyplane")
def cli() -> None:
    """keyplane: issue, scope, limit, meter, rotate and revoke API keys."""


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)

"""Human tables and JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from keyplane.cli.errors import CliError


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print an aligned table; an empty one says so instead."""
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def confirm(question: str, *, yes: bool, refused: str) -> None:
    """Ask before a change that cannot be undone, unless ``--yes`` was given.

    No answer (end of input, as in a script without ``--yes``) or "no" ends with ``refused``
    and the hint, as one line.
    """
    if yes:
        return
    try:
        click.confirm(question, abort=True)
    except click.Abort:
        click.echo("", err=True)  # end the prompt's line
        raise CliError(f"{refused}; pass --yes to skip this question") from None


def when(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)

"""The CLI's one expected failure: printed as a single line on stderr, exit status non-zero."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # an annotation only: `keyplane scan` must not import pydantic
    from pydantic import ValidationError


class CliError(click.ClickException):
    """An expected failure. Click prints ``Error: <message>`` on stderr and exits 1.

    ``status`` is the HTTP status when the server refused the request, else ``None``.
    """

    exit_code = 1

    def __init__(
        self, message: str, *, exit_code: int | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        if exit_code is not None:
            self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class


class CliUsageError(CliError):
    """Bad input on the command line: exit status 2, as click gives for usage errors."""

    exit_code = 2


def bad_setting(exc: ValidationError) -> CliError:
    """One line naming the first setting pydantic refused, e.g. ``KEYPLANE_PORT``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]).upper()
    return CliError(f"bad setting KEYPLANE_{where}: {first['msg']}")

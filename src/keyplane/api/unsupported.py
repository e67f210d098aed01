"""Refusing OpenAI parameters keyplane does not support: a 400 that says so, never a shrug."""

from __future__ import annotations

from keyplane.errors import BadRequestError

CODE = "unsupported_parameter"


def refuse(param: str, why: str = "") -> BadRequestError:
    message = f"keyplane does not support '{param}'."
    return BadRequestError(f"{message} {why}".strip(), param=param, code=CODE)


def refuse_set(**values: object) -> None:
    """Refuse the first of ``values`` that is set (not None, not False)."""
    for param, value in values.items():
        if value not in (None, False):
            raise refuse(param)

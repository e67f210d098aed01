"""Reading HTML forms, and putting a domain error next to the field that caused it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypeVar

from fastapi import Request
from starlette.datastructures import FormData

from keyplane.errors import KeyplaneError, ValidationFailedError

# A service's ``param`` names the API's field; the form may call it something else.
_FIELDS = {
    "permissions.mode": "permissions",
    "permissions.scopes": "scopes",
    "expires_at": "expires_on",
    "grace_period_seconds": "grace",
    "project_ids": "projects",
    "rate_limits.requests_per_minute": "rpm",
    "rate_limits.tokens_per_minute": "tpm",
    "rate_limits.max_parallel_requests": "parallel",
    "budget.limit_usd": "budget_usd",
    "budget.period": "budget_period",
}
FORM_WIDE = "_form"
T = TypeVar("T")


class FormInvalidError(ValidationFailedError):
    """Some fields were wrong; each error already sits beside its field."""

    def __init__(self) -> None:
        super().__init__("Some fields need a change.")


class Errors(dict[str, str]):
    """Error messages by field; a field without one reads as empty in a template."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class Form:
    """A form's submitted values and its errors, keyed by field name."""

    data: FormData = field(default_factory=FormData)
    errors: Errors = field(default_factory=Errors)

    @classmethod
    async def read(cls, request: Request) -> Form:
        return cls(data=await request.form())

    def text(self, name: str, default: str = "") -> str:
        value = self.data.get(name)
        return value if isinstance(value, str) else default

    def texts(self, name: str) -> list[str]:
        return [v for v in self.data.getlist(name) if isinstance(v, str)]

    def lines(self, name: str) -> list[str]:
        """A textarea or comma list as its non-empty entries."""
        raw = self.text(name).replace(",", "\n")
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def fail(self, exc: KeyplaneError) -> Form:
        """Record ``exc`` next to its field (or above the form); returns self."""
        if isinstance(exc, FormInvalidError):
            return self  # its errors are on the fields already
        name = _FIELDS.get(exc.param or "", exc.param) if exc.param else FORM_WIDE
        # Services write messages for API callers ('name must not be empty.'); a form
        # reads better with a capital.
        self.errors[name or FORM_WIDE] = exc.message[:1].upper() + exc.message[1:]
        return self

    def check(self, name: str, plain: str | None, call: Callable[[], T]) -> T | None:
        """``call()``, or None with its error beside field ``name`` — in ``plain`` words if
        given, since a service's messages name API fields a person never saw."""
        try:
            return call()
        except ValidationFailedError as exc:
            self.errors[name] = plain or exc.message[:1].upper() + exc.message[1:]
            return None

    def require_valid(self) -> None:
        """Stop before any service call when a field is wrong, with every error shown."""
        if self.errors:
            raise FormInvalidError

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def field_errors(self) -> list[tuple[str, str]]:
        return [(name, message) for name, message in self.errors.items() if name != FORM_WIDE]

    async def submit(
        self, check: Callable[[Form], object], call: Callable[[], Awaitable[T]]
    ) -> T | None:
        """``check`` every field first, so a person sees all that is wrong at once, each
        beside its field; only a form that passed reaches the service ``call``."""
        check(self)
        if not self.ok:
            return None
        return await self.attempt(call())

    async def attempt(self, call: Awaitable[T]) -> T | None:
        """Await ``call``; an error the person can fix lands on the form and gives None."""
        try:
            return await call
        except KeyplaneError as exc:
            if not shown_on_form(exc):
                raise
            self.fail(exc)
            return None


DRAFT = "draft."


@dataclass(frozen=True)
class Resume:
    """A form that was sent after its session ended: where it went and what it held."""

    action: str
    draft: list[tuple[str, str]]

    @classmethod
    def from_login(cls, form: Form) -> Resume | None:
        """The draft a sign-in form carries in ``draft.*`` fields, if any."""
        action = form.text("resume_action")
        if not action.startswith("/") or action.startswith("//") or "\\" in action:
            return None
        typed = [
            (k.removeprefix(DRAFT), v)
            for k, v in form.data.multi_items()
            if k.startswith(DRAFT) and isinstance(v, str)
        ]
        return cls(action, typed)


def shown_on_form(exc: KeyplaneError) -> bool:
    """Errors a person fixes by changing the form, as opposed to ones that end the page."""
    return exc.status in (400, 409, 422)


def parse_day(value: str, *, param: str) -> date | None:
    """A ``YYYY-MM-DD`` date input; empty is None."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailedError("Enter a date as YYYY-MM-DD.", param=param) from None


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)

"""Jinja2 pages: one environment, the filters the pages share, and the render helper."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from keyplane import __version__

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def when(moment: datetime | None) -> str:
    """``Nov 29, 2026`` — the date people read in a table."""
    if moment is None:
        return "—"
    return _utc(moment).strftime("%b %-d, %Y")


def when_exact(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def _utc(moment: datetime) -> datetime:
    """The store gives naive UTC times on SQLite: they are UTC, not the server's local time."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ago(moment: datetime | None, now: datetime) -> str:
    """``3 minutes ago``; ``Never`` for no time at all."""
    if moment is None:
        return "Never"
    seconds = int((now - moment).total_seconds())
    if seconds < 60:
        return "Just now"
    for size, unit in ((86400 * 30, "month"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return when(moment)


def usd(micro: int) -> str:
    """Integer micro-USD as dollars: ``$0.000123`` below a cent, ``$12.34`` from one up."""
    dollars = micro / 1_000_000
    if micro and abs(micro) < 10_000:
        return "$" + f"{dollars:.6f}".rstrip("0")
    return f"${dollars:,.2f}"


def number(value: int) -> str:
    return f"{value:,}"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(("html", "svg")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, when_exact=when_exact, usd=usd, number=number)
    env.globals.update(version=__version__, ago=ago)
    return env


class Pages:
    """Renders templates into responses; pages are never cached by the browser."""

    def __init__(self) -> None:
        self.env = make_environment()

    def render(
        self,
        request: Request,
        name: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        context.setdefault("me", None)
        context.setdefault("notice", None)
        context.setdefault("now", datetime.now(UTC))
        context.setdefault("demo", in_demo(request))
        html = self.env.get_template(name).render(request=request, path=request.url.path, **context)
        response = HTMLResponse(html, status_code=status, headers=headers)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        return response


def in_demo(request: Request) -> bool:
    """Whether ``serve --demo`` started this server, pointing the gateway at the stand-in."""
    runtime = getattr(request.app.state, "runtime", None)
    return bool(runtime is not None and runtime.settings.demo)


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages

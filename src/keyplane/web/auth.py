"""Who is signed in: the session cookie, CSRF checks, and the dependencies routes use.

The cookie holds a random token (HttpOnly, SameSite=Lax, Secure over HTTPS); the store
holds only its SHA-256. Every form carries the session's CSRF token in a hidden field and
every POST is checked against it in constant time. Forms shown before sign-in (login,
setup, invitation) use a double-submit cookie instead.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response

from keyplane.audit.actor import Actor
from keyplane.errors import PermissionDeniedError
from keyplane.runtime.deps import SessionsDep, client_ip
from keyplane.services.sessions import SignedIn

SESSION_COOKIE = "kp_session"
CSRF_COOKIE = "kp_csrf"
CSRF_FIELD = "csrf_token"


class LoginRequiredError(Exception):
    """Raised by a page that needs a session; answered with a redirect to ``/login``, or
    for a form sent after the session ended, the sign-in page keeping what was typed."""

    def __init__(self, next_path: str, draft: list[tuple[str, str]] | None = None) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.draft = draft


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}" if next_path not in ("", "/") else "/login"


async def signed_in(request: Request, sessions: SessionsDep) -> SignedIn:
    """The session of the request, or a redirect to sign in."""
    me = await sessions.resolve(request.cookies.get(SESSION_COOKIE))
    if me is None:
        if request.method == "GET" or request.url.path == "/logout":
            raise LoginRequiredError(request.url.path if request.method == "GET" else "/")
        form = await request.form()
        # What was typed goes back into the sign-in page; never a token or a password.
        typed = [
            (k, v)
            for k, v in form.multi_items()
            if isinstance(v, str) and k != CSRF_FIELD and "password" not in k
        ]
        raise LoginRequiredError(request.url.path, draft=typed)
    return me


async def csrf_checked(request: Request, me: Annotated[SignedIn, Depends(signed_in)]) -> SignedIn:
    """A POST from one of our own forms: the form's CSRF token matches the session's."""
    form = await request.form()
    await require_token(form.get(CSRF_FIELD), me.csrf_token)
    return me


async def editor(me: Annotated[SignedIn, Depends(csrf_checked)]) -> SignedIn:
    """A POST that changes something: readers are refused here, once for every form."""
    me.access.require_writer()
    return me


Viewer = Annotated[SignedIn, Depends(signed_in)]
Editor = Annotated[SignedIn, Depends(editor)]


async def require_token(given: object, expected: str) -> None:
    if not isinstance(given, str) or not secrets.compare_digest(given.encode(), expected.encode()):
        raise PermissionDeniedError(
            "This form expired or did not come from this dashboard; reload the page and retry.",
            code="csrf_failed",
        )


def anonymous_csrf(request: Request) -> str:
    """The double-submit token for forms shown before sign-in; reuses the cookie's."""
    token = request.cookies.get(CSRF_COOKIE, "")
    return token if 20 <= len(token) <= 100 else secrets.token_urlsafe(32)


async def check_anonymous_csrf(request: Request) -> None:
    form = await request.form()
    await require_token(form.get(CSRF_FIELD), request.cookies.get(CSRF_COOKIE) or "\x00")


def set_anonymous_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_https(request), path="/"
    )


def set_session(request: Request, response: Response, token: str, *, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=_https(request),
        path="/",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def actor_of(request: Request, me: SignedIn | None = None, *, label: str | None = None) -> Actor:
    """The audit log's actor: the signed-in person, or an anonymous visitor, with IP and agent."""
    base = Actor(type="user", id=me.user.id, label=me.user.email) if me else Actor(type="user")
    if label is not None:
        base = Actor(type="user", label=label)
    return base.at(ip_address=client_ip(request), user_agent=request.headers.get("user-agent"))


def _https(request: Request) -> bool:
    return request.url.scheme == "https"

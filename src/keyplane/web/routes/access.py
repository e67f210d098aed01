"""Getting in: the setup link, signing in and out, and accepting an invitation."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from keyplane.errors import KeyplaneError, NotFoundError, RateLimitedError
from keyplane.runtime.deps import InvitesDep, SessionsDep, SettingsDep, UsersDep
from keyplane.services.passwords import clean_email, clean_password, clean_person_name
from keyplane.services.sessions import SessionService
from keyplane.services.users import NewAccount
from keyplane.store.models import User
from keyplane.web.auth import (
    SESSION_COOKIE,
    actor_of,
    anonymous_csrf,
    check_anonymous_csrf,
    clear_session,
    csrf_checked,
    set_anonymous_csrf,
    set_session,
)
from keyplane.web.errors import TAG
from keyplane.web.forms import Form, Resume
from keyplane.web.templating import pages_of

router = APIRouter(tags=[TAG], include_in_schema=False)


@router.get("/")
async def home(request: Request, sessions: SessionsDep, users: UsersDep) -> Response:
    if await sessions.resolve(request.cookies.get(SESSION_COOKIE)):
        return RedirectResponse("/projects", status_code=303)
    if not await users.owner_exists():
        return _anonymous(request, "not_setup.html")
    return RedirectResponse("/login", status_code=303)


@router.get("/setup")
async def setup_form(request: Request, users: UsersDep, token: str = "") -> Response:
    if not await users.setup_token_valid(token):
        raise NotFoundError("This setup link is not valid or was already used.")
    return _anonymous(request, "setup.html", token=token, form=Form())


@router.post("/setup")
async def setup(request: Request, users: UsersDep, sessions: SessionsDep) -> Response:
    await check_anonymous_csrf(request)
    form = await Form.read(request)
    token = form.text("token")
    user = await form.submit(
        _check_owner,
        lambda: users.create_owner(token=token, account=_account(form), actor=actor_of(request)),
    )
    if user is None:
        return _anonymous(request, "setup.html", status=422, token=token, form=form)
    return await _sign_in(request, sessions, user, "/projects?welcome=1")


@router.get("/login")
async def login_form(request: Request, next: str = "/projects") -> Response:
    return _anonymous(request, "login.html", form=Form(), next=_local(next), resume=None)


@router.post("/login")
async def login(
    request: Request, users: UsersDep, sessions: SessionsDep, settings: SettingsDep
) -> Response:
    await check_anonymous_csrf(request)
    form = await Form.read(request)
    next_path = _local(form.text("next"))
    resume = Resume.from_login(form)
    try:
        user = await users.authenticate(
            email=form.text("email"), password=form.text("password"), actor=actor_of(request)
        )
    except KeyplaneError as exc:
        if exc.status not in (401, 429):
            raise
        if not isinstance(exc, RateLimitedError):
            # A small delay on every failure makes guessing slow without locking anyone out.
            await asyncio.sleep(settings.login_failure_delay_seconds)
        form.errors["_form"] = exc.message
        return _anonymous(
            request, "login.html", status=exc.status, form=form, next=next_path, resume=resume
        )
    if resume is not None:
        return await _resume(request, sessions, user, resume)
    return await _sign_in(request, sessions, user, next_path)


@router.post("/logout", dependencies=[Depends(csrf_checked)])
async def logout(request: Request, sessions: SessionsDep) -> Response:
    await sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    clear_session(response)
    return response


@router.get("/invite")
async def invite_form(request: Request, invites: InvitesDep, token: str = "") -> Response:
    invite = await invites.find(token)
    return _anonymous(request, "invite.html", token=token, invite=invite, form=Form())


@router.post("/invite")
async def accept_invite(request: Request, invites: InvitesDep, sessions: SessionsDep) -> Response:
    await check_anonymous_csrf(request)
    form = await Form.read(request)
    token = form.text("token")
    invite = await invites.find(token)
    account = _account(form, email=invite.email)
    user = await form.submit(
        _check_account,
        lambda: invites.accept(token=token, account=account, actor=actor_of(request)),
    )
    if user is None:
        return _anonymous(request, "invite.html", status=422, token=token, invite=invite, form=form)
    return await _sign_in(request, sessions, user, "/projects")


def _check_owner(form: Form) -> None:
    form.check("email", None, lambda: clean_email(form.text("email")))
    _check_account(form)


def _check_account(form: Form) -> None:
    form.check("name", None, lambda: clean_person_name(form.text("name")))
    form.check("password", None, lambda: clean_password(form.text("password")))


def _account(form: Form, *, email: str | None = None) -> NewAccount:
    return NewAccount(
        email=email if email is not None else form.text("email"),
        name=form.text("name"),
        password=form.text("password"),
    )


async def _sign_in(request: Request, sessions: SessionService, user: User, to: str) -> Response:
    token = await sessions.sign_in(
        user_id=user.id,
        ip_address=actor_of(request).ip_address,
        user_agent=request.headers.get("user-agent"),
    )
    response = RedirectResponse(to, status_code=303)
    set_session(request, response, token, max_age=sessions.max_age_seconds)
    return response


async def _resume(
    request: Request, sessions: SessionService, user: User, resume: Resume
) -> Response:
    """Signed in again: offer to send the form that the ended session did not save."""
    token = await sessions.sign_in(
        user_id=user.id,
        ip_address=actor_of(request).ip_address,
        user_agent=request.headers.get("user-agent"),
    )
    me = await sessions.resolve(token)
    assert me is not None
    response = pages_of(request).render(
        request, "resume.html", csrf=me.csrf_token, resume=resume, signed_in_as=user.email
    )
    set_session(request, response, token, max_age=sessions.max_age_seconds)
    return response


def _anonymous(request: Request, name: str, *, status: int = 200, **context: Any) -> Response:
    """A page shown before sign-in, with its double-submit CSRF token set."""
    csrf = anonymous_csrf(request)
    response = pages_of(request).render(request, name, status=status, csrf=csrf, **context)
    set_anonymous_csrf(request, response, csrf)
    return response


def _local(path: str) -> str:
    """Only same-site paths, so a crafted ``next`` cannot send people elsewhere."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/projects"
    return path

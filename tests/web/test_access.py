"""Getting in: the setup link works once, sign-in is throttled, sessions end on sign-out."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from keyplane.services.bootstrap import Bootstrap
from web.conftest import PASSWORD, WebClient

Browsers = Callable[[], WebClient]


async def test_without_an_owner_the_home_page_says_to_use_the_setup_link(
    booted: Bootstrap, browser_factory: Browsers
) -> None:
    response = await browser_factory().get("/")
    assert response.status_code == 200
    assert "not set up yet" in response.text


async def test_setup_link_works_once(
    app: FastAPI, booted: Bootstrap, browser_factory: Browsers
) -> None:
    token = await app.state.runtime.users.issue_setup_token()
    first, second = browser_factory(), browser_factory()
    await first.get(f"/setup?token={token}")
    await second.get(f"/setup?token={token}")
    account = {"token": token, "email": "a@example.com", "password": PASSWORD}
    assert (await first.post("/setup", account)).status_code == 303
    again = await second.post("/setup", {**account, "email": "b@example.com"})
    assert again.status_code == 404
    assert "not valid or was already used" in again.text
    assert (await second.get(f"/setup?token={token}")).status_code == 404
    assert await app.state.runtime.users.issue_setup_token() is None


async def test_without_the_token_nobody_can_claim_the_instance(
    app: FastAPI, booted: Bootstrap, browser_factory: Browsers
) -> None:
    await app.state.runtime.users.issue_setup_token()
    web = browser_factory()
    await web.get("/login")
    for token in ("", "guess", "x" * 500):
        response = await web.post(
            "/setup", {"token": token, "email": "evil@example.com", "password": PASSWORD}
        )
        assert response.status_code == 404
    assert not await app.state.runtime.users.owner_exists()


async def test_setup_with_bad_fields_shows_errors_next_to_them(
    app: FastAPI, booted: Bootstrap, browser_factory: Browsers
) -> None:
    token = await app.state.runtime.users.issue_setup_token()
    web = browser_factory()
    await web.get(f"/setup?token={token}")
    response = await web.post("/setup", {"token": token, "email": "nope", "password": "short"})
    assert response.status_code == 422
    assert 'id="email-error"' in response.text
    assert await app.state.runtime.users.setup_token_valid(token)


async def test_session_cookie_is_httponly_samesite_and_only_its_hash_is_stored(
    app: FastAPI, booted: Bootstrap, browser_factory: Browsers
) -> None:
    token = await app.state.runtime.users.issue_setup_token()
    web = browser_factory()
    await web.get(f"/setup?token={token}")
    response = await web.post(
        "/setup", {"token": token, "email": "o@example.com", "password": PASSWORD}
    )
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "kp_session" in v
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    session_token = web.http.cookies["kp_session"]
    from sqlalchemy import select

    from keyplane.keys import hash_key
    from keyplane.store.models import WebSession

    async with app.state.runtime.database.session() as session:
        ids = list((await session.execute(select(WebSession.id))).scalars())
    assert ids == [hash_key(session_token)]


async def test_sign_in_sign_out_and_the_old_cookie_no_longer_works(
    owner: WebClient, browser_factory: Browsers
) -> None:
    web = browser_factory()
    await web.get("/login")
    signed = await web.post("/login", {"email": "OWNER@example.com", "password": PASSWORD})
    assert signed.status_code == 303
    old_cookie = web.http.cookies["kp_session"]
    assert (await web.get("/projects")).status_code == 200
    assert (await web.post("/logout")).status_code == 303
    web.http.cookies.set("kp_session", old_cookie)
    after = await web.get("/projects")
    assert after.status_code == 303 and after.headers["location"] == "/login?next=/projects"


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/x"])
async def test_sign_in_never_redirects_off_site(
    owner: WebClient, browser_factory: Browsers, next_path: str
) -> None:
    web = browser_factory()
    await web.get("/login")
    response = await web.post(
        "/login", {"email": "owner@example.com", "password": PASSWORD, "next": next_path}
    )
    assert response.headers["location"] == "/projects"


async def test_after_repeated_failures_the_account_is_locked_and_audited(
    owner: WebClient, browser_factory: Browsers
) -> None:
    web = browser_factory()
    await web.get("/login")
    for _ in range(5):
        failed = await web.post("/login", {"email": "owner@example.com", "password": "wrong"})
        assert failed.status_code == 401
        assert "Wrong email or password" in failed.text
    locked = await web.post("/login", {"email": "owner@example.com", "password": PASSWORD})
    assert locked.status_code == 429
    assert "try again in 15 minutes" in locked.text
    audit = await owner.get("/audit?type=login.locked")
    assert "owner@example.com" in audit.text
    failed_events = await owner.get("/audit?type=login.failed")
    assert failed_events.text.count("<code>login.failed</code>") == 5


async def test_lock_ends_after_the_lockout(
    owner: WebClient, browser_factory: Browsers, clock: object
) -> None:
    web = browser_factory()
    await web.get("/login")
    for _ in range(5):
        await web.post("/login", {"email": "owner@example.com", "password": "wrong"})
    clock.advance(minutes=16)  # type: ignore[attr-defined]
    again = await web.post("/login", {"email": "owner@example.com", "password": PASSWORD})
    assert again.status_code == 303


async def test_unknown_email_fails_like_a_wrong_password(
    owner: WebClient, browser_factory: Browsers
) -> None:
    web = browser_factory()
    await web.get("/login")
    response = await web.post("/login", {"email": "nobody@example.com", "password": PASSWORD})
    assert response.status_code == 401
    assert "Wrong email or password" in response.text


async def test_sign_in_form_needs_its_csrf_token(
    owner: WebClient, browser_factory: Browsers
) -> None:
    web = browser_factory()
    await web.get("/login")
    response = await web.post(
        "/login", {"email": "owner@example.com", "password": PASSWORD}, csrf=False
    )
    assert response.status_code == 403


async def test_a_form_sent_after_the_session_ended_is_kept_through_sign_in(
    owner: WebClient, app: FastAPI
) -> None:
    await owner.get("/projects")
    owner.http.cookies.delete("kp_session")
    lost = await owner.post("/projects", {"name": "Typed while away", "password": "hunter2hunter2"})
    assert lost.status_code == 401
    assert "hunter2" not in lost.text  # a password typed into a form is never sent back
    assert "Nothing has changed yet" in lost.text
    assert 'name="draft.name" value="Typed while away"' in lost.text
    assert "draft.csrf_token" not in lost.text  # the old token is useless, and not echoed
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', lost.text))
    back = await owner.post(
        "/login",
        {**fields, "email": "owner@example.com", "password": PASSWORD},
        csrf=False,
    )
    assert back.status_code == 200 and "has not been saved yet" in back.text
    assert 'action="/projects"' in back.text
    saved = await owner.post("/projects", {"name": "Typed while away"})
    assert saved.status_code == 303
    assert "Typed while away" in (await owner.get("/projects")).text


async def test_a_resumed_form_goes_only_to_this_site(
    browser_factory: Callable[[], WebClient], owner: WebClient
) -> None:
    web = browser_factory()
    page = await web.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    response = await web.post(
        "/login",
        {
            "csrf_token": csrf.group(1),
            "email": "owner@example.com",
            "password": PASSWORD,
            "resume_action": "//evil.example/steal",
            "draft.name": "x",
        },
        csrf=False,
    )
    assert response.status_code == 303 and "evil" not in response.headers["location"]

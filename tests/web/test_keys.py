"""The API keys pages: a new secret is shown once, and edits, rotation and revocation work."""

from __future__ import annotations

import re

from fastapi import FastAPI

from keyplane.audit.actor import SYSTEM
from keyplane.services.bootstrap import Bootstrap
from web.conftest import Invite, WebClient

SECRET = re.compile(r'value="(kp_proj_[A-Za-z0-9]+)"')


async def create_key(owner: WebClient, project_id: str, **fields: object) -> tuple[str, str]:
    """Create a key through the form; returns the secret page's URL and the secret."""
    await owner.get(f"/projects/{project_id}/keys/new")
    response = await owner.post(f"/projects/{project_id}/keys", {"name": "app", **fields})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    page = await owner.get(location)
    found = SECRET.search(page.text)
    assert found, page.text
    return location, found.group(1)


async def test_new_key_is_shown_once_and_never_again(owner: WebClient, project_id: str) -> None:
    location, secret = await create_key(owner, project_id)
    first = await owner.get(f"/projects/{project_id}")
    assert secret not in first.text
    again = await owner.get(location)
    assert again.status_code == 303
    assert again.headers["location"] == f"/projects/{project_id}?gone=1"
    notice = await owner.get(again.headers["location"])
    assert "shown once and is no longer available" in notice.text
    assert secret not in notice.text


async def test_secret_page_is_not_cached_and_carries_the_env_snippet(
    owner: WebClient, project_id: str
) -> None:
    await owner.get(f"/projects/{project_id}/keys/new")
    response = await owner.post(f"/projects/{project_id}/keys", {"name": "app"})
    page = await owner.get(response.headers["location"])
    assert page.headers["cache-control"] == "no-store"
    secret = SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    assert f"OPENAI_API_KEY={secret}" in page.text
    assert "load_dotenv()" in page.text
    assert "won't be able to view it again" in page.text


async def test_another_session_cannot_read_the_secret(
    owner: WebClient, browser_factory: object, project_id: str
) -> None:
    await owner.get(f"/projects/{project_id}/keys/new")
    response = await owner.post(f"/projects/{project_id}/keys", {"name": "app"})
    other = browser_factory()  # type: ignore[operator]
    await other.get("/login")
    await other.post("/login", {"email": "owner@example.com", "password": "correct horse battery"})
    stolen = await other.get(response.headers["location"])
    assert stolen.status_code == 303 and "kp_proj_" not in stolen.text
    mine = await owner.get(response.headers["location"])
    assert SECRET.search(mine.text)


async def test_restricted_key_without_scopes_shows_the_error_next_to_scopes(
    owner: WebClient, project_id: str
) -> None:
    await owner.get(f"/projects/{project_id}/keys/new")
    response = await owner.post(
        f"/projects/{project_id}/keys", {"name": "x", "permissions": "restricted"}
    )
    assert response.status_code == 422
    assert 'id="scopes-error"' in response.text
    assert 'value="x"' in response.text  # what was typed stays


async def test_expiry_in_the_past_is_refused_next_to_the_date(
    owner: WebClient, project_id: str
) -> None:
    await owner.get(f"/projects/{project_id}/keys/new")
    response = await owner.post(
        f"/projects/{project_id}/keys", {"name": "x", "expires_on": "2001-01-01"}
    )
    assert response.status_code == 422
    assert 'id="expires_on-error"' in response.text


async def test_table_shows_permissions_creator_and_state(owner: WebClient, project_id: str) -> None:
    await create_key(
        owner,
        project_id,
        name="scoped",
        permissions="restricted",
        scopes=["embeddings.write", "models.read"],
        allowed_models="text-embedding-*, gpt-4o",
        expires_on="2999-01-01",
    )
    page = await owner.get(f"/projects/{project_id}")
    row = page.text.split('data-key-id="')[1]
    assert "scoped" in row and "Restricted" in row and "Olive Owner" in row
    assert "text-embedding-*, gpt-4o" in row and "expires Jan 1, 2999" in row
    assert "Active" in row


async def test_edit_rotate_and_revoke(owner: WebClient, project_id: str) -> None:
    location, secret = await create_key(owner, project_id)
    key_id = location.split("/keys/")[1].split("/")[0]
    base = f"/projects/{project_id}/keys/{key_id}"

    await owner.get(base)
    edited = await owner.post(base, {"name": "renamed", "permissions": "read_only"})
    assert edited.status_code == 303
    assert "Read only" in (await owner.get(f"/projects/{project_id}")).text

    await owner.get(f"{base}/rotate")
    rotated = await owner.post(f"{base}/rotate", {"grace": "3600"})
    page = await owner.get(rotated.headers["location"])
    new_secret = SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    assert new_secret != secret
    assert "keeps working for 1 hour" in page.text

    confirm = await owner.get(f"{base}/revoke")
    assert "will immediately be disabled" in confirm.text
    assert (await owner.post(f"{base}/revoke")).status_code == 303
    listing = await owner.get(f"/projects/{project_id}")
    assert "Revoked" in listing.text
    assert f"{base}/rotate" not in listing.text


async def test_a_leaked_key_shows_where_it_was_found(
    app: FastAPI, owner: WebClient, project_id: str, booted: Bootstrap
) -> None:
    location, _ = await create_key(owner, project_id)
    key_id = location.split("/keys/")[1].split("/")[0]
    services = app.state.runtime
    await services.keys.revoke(
        organization_id=booted.organization_id,
        project_id=project_id,
        key_id=key_id,
        actor=SYSTEM,
        reason="leaked",
    )
    async with services.database.session() as session, session.begin():
        from keyplane.store.models import ApiKey

        key = await session.get(ApiKey, key_id)
        assert key is not None
        key.leaked_url = "https://github.com/acme/app/blob/main/.env"
    page = await owner.get(f"/projects/{project_id}")
    assert "Leaked" in page.text
    assert 'href="https://github.com/acme/app/blob/main/.env"' in page.text


async def test_archived_project_refuses_new_keys_with_a_message(
    owner: WebClient, project_id: str
) -> None:
    await owner.get(f"/projects/{project_id}/settings")
    assert (await owner.post(f"/projects/{project_id}/archive")).status_code == 303
    page = await owner.get(f"/projects/{project_id}")
    assert "This project is archived" in page.text
    assert "Create new secret key" not in page.text
    form = await owner.get(f"/projects/{project_id}/keys/new")
    refused = await owner.post(f"/projects/{project_id}/keys", {"name": "late"})
    assert form.status_code == 200 and refused.status_code == 422
    assert "archived" in refused.text


async def test_projects_can_be_created_renamed_and_listed(owner: WebClient) -> None:
    await owner.get("/projects")
    empty = await owner.post("/projects", {"name": "   "})
    assert empty.status_code == 422 and 'id="name-error"' in empty.text
    created = await owner.post("/projects", {"name": "Billing"})
    project = created.headers["location"].rsplit("/", 1)[1]
    empty_keys = await owner.get(f"/projects/{project}")
    assert "No keys yet" in empty_keys.text
    await owner.get(f"/projects/{project}/settings")
    await owner.post(f"/projects/{project}/rename", {"name": "Billing v2"})
    assert "Billing v2" in (await owner.get("/projects")).text


async def test_limits_and_budget_are_set_shown_and_checked(
    owner: WebClient, project_id: str
) -> None:
    location, _ = await create_key(
        owner, project_id, rpm="60", tpm="10,000", budget_usd="25.50", budget_period="day"
    )
    page = await owner.get(f"/projects/{project_id}")
    assert "60 req/min · 10,000 tokens/min · $25.5/day" in page.text
    key_id = location.split("/keys/")[1].split("/")[0]
    form = await owner.get(f"/projects/{project_id}/keys/{key_id}")
    assert 'name="rpm" value="60"' in form.text and 'name="budget_usd" value="25.5"' in form.text
    bad = await owner.post(
        f"/projects/{project_id}/keys/{key_id}", {"name": "app", "rpm": "lots", "enabled": "on"}
    )
    assert bad.status_code == 422 and 'id="rpm-error"' in bad.text
    cleared = await owner.post(
        f"/projects/{project_id}/keys/{key_id}", {"name": "app", "enabled": "on"}
    )
    assert cleared.status_code == 303
    assert "req/min" not in (await owner.get(f"/projects/{project_id}")).text


async def test_every_wrong_field_shows_its_error_at_once_in_plain_words(
    owner: WebClient, project_id: str
) -> None:
    await owner.get(f"/projects/{project_id}/keys/new")
    response = await owner.post(
        f"/projects/{project_id}/keys",
        {
            "name": " ",
            "permissions": "restricted",
            "rpm": "lots",
            "parallel": "0",
            "budget_usd": "10000000000000",
            "expires_on": "2001-01-01",
        },
    )
    assert response.status_code == 422
    errors = dict(
        re.findall(r'<p class="field-error" id="([a-z_]+)-error">([^<]+)</p>', response.text)
    )
    assert set(errors) == {"name", "scopes", "rpm", "parallel", "budget_usd", "expires_on"}
    assert "6 fields need a change" in response.text
    for message in errors.values():
        assert not re.search(r"limit_usd|rate_limits|permissions\.|10\^|expires_at", message)
    assert errors["budget_usd"].startswith("Enter an amount in dollars")
    assert 'aria-describedby="rpm-error"' in response.text  # the field says where its error is


async def test_a_revoked_key_offers_no_edit_or_rotate_and_the_server_refuses_them(
    owner: WebClient, project_id: str
) -> None:
    location, _ = await create_key(owner, project_id)
    key_id = location.split("/keys/")[1].split("/")[0]
    key_url = f"/projects/{project_id}/keys/{key_id}"
    await owner.get(f"{key_url}/revoke")
    assert (await owner.post(f"{key_url}/revoke")).status_code == 303
    listing = await owner.get(f"/projects/{project_id}")
    assert f'href="{key_url}/rotate"' not in listing.text
    page = await owner.get(key_url)
    assert "can no longer be edited or rotated" in page.text
    assert 'method="post"' not in page.text.split("<main", 1)[1].split("Sign out")[0]
    assert (await owner.get(f"{key_url}/rotate")).status_code == 409
    assert (await owner.post(f"{key_url}/rotate", {"grace": "0"})).status_code == 409
    edit = await owner.post(key_url, {"name": "back from the dead", "enabled": "on"})
    assert edit.status_code == 409
    assert "back from the dead" not in (await owner.get(f"/projects/{project_id}")).text


async def test_a_reader_sees_a_key_without_any_form_and_cannot_open_the_forms(
    owner: WebClient, invited: Invite, project_id: str
) -> None:
    location, _ = await create_key(owner, project_id)
    key_url = location.split("/secret")[0]
    reader = await invited("r@example.com", "reader")
    page = await reader.get(key_url)
    assert page.status_code == 200 and "as a reader you cannot change it" in page.text
    assert 'name="name"' not in page.text and ">Save<" not in page.text
    listing = await reader.get(f"/projects/{project_id}")
    assert "Create new secret key" not in listing.text and ">Rotate<" not in listing.text
    for path in (
        "/keys/new",
        location.split("/secret")[0].removeprefix(f"/projects/{project_id}") + "/rotate",
    ):
        assert (await reader.get(f"/projects/{project_id}{path}")).status_code == 403, path
    assert (await reader.get(f"/projects/{project_id}/settings")).status_code == 403


async def test_leaked_keys_are_flagged_at_the_top_with_when_and_where(
    app: FastAPI, owner: WebClient, project_id: str, booted: Bootstrap
) -> None:
    location, _ = await create_key(owner, project_id, name="leaky")
    key_id = location.split("/keys/")[1].split("/")[0]
    await app.state.runtime.keys.revoke(
        organization_id=booted.organization_id,
        project_id=project_id,
        key_id=key_id,
        actor=SYSTEM,
        reason="leaked",
    )
    page = (await owner.get(f"/projects/{project_id}")).text
    banner = page.split('class="alert alert-error leak-alert"', 1)[1].split("</section>", 1)[0]
    assert page.index("leak-alert") < page.index("<table")
    assert "1 leaked key revoked" in banner and "leaky" in banner
    assert re.search(r"found <time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", banner)
    assert "place not reported" in banner

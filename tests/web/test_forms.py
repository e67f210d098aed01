"""Every dashboard form, sent wrong, shows all that is wrong at once: a summary at the top
linking to each field, and each error in plain words beside its field (issue #15, item 3)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from keyplane.keys.policy import MAX_LIST, MAX_NAME
from keyplane.limits.policy import ModelLimits
from keyplane.services.bootstrap import Bootstrap
from web.conftest import WebClient

DAY_PLAIN = "Enter a whole number of requests from 1, like 1000, or leave it empty for no limit."


def summary(page: httpx.Response) -> list[tuple[str, str]]:
    """The summary's entries: (field anchor, message), in order."""
    found = re.search(r'<div class="alert alert-error errors-summary".*?</div>', page.text, re.S)
    assert found is not None, page.text
    return re.findall(r'<li><a href="#field-([^"]+)">[^<]*</a>: ([^<]*)</li>', found.group(0))


def beside(page: httpx.Response, name: str) -> str:
    """The error shown beside field ``name``, which must be marked invalid and point at it."""
    field = re.search(rf'<[^>]*id="field-{name}"[^>]*>', page.text)
    assert field is not None, f"no field {name}"
    assert 'aria-invalid="true"' in field.group(0) or "<fieldset" in field.group(0), field
    assert f'aria-describedby="{name}-error"' in field.group(0), field.group(0)
    error = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', page.text)
    assert error is not None, f"no error beside {name}"
    return error.group(1)


def says_once(page: httpx.Response, errors: dict[str, str]) -> None:
    """The page lists exactly ``errors`` at the top and shows each beside its field."""
    listed = summary(page)
    assert dict(listed) == errors
    count = len(errors)
    assert ("One field needs" if count == 1 else f"{count} fields need") in page.text
    for name, message in errors.items():
        assert beside(page, name) == message


async def test_a_new_project_without_a_name_says_so_in_plain_words(
    app: FastAPI, owner: WebClient, booted: Bootstrap
) -> None:
    await owner.get("/projects")
    for name in ("   ", "x" * (MAX_NAME + 1)):
        page = await owner.post("/projects", {"name": name})
        assert page.status_code == 422
        says_once(page, {"name": f"Give the project a name of at most {MAX_NAME} characters."})
    projects = await app.state.runtime.projects.list(organization_id=booted.organization_id)
    assert [p.name for p in projects.items] == ["Default project"]


async def test_renaming_a_project_to_nothing_keeps_its_name_and_says_why(
    owner: WebClient, project_id: str
) -> None:
    await owner.get(f"/projects/{project_id}/settings")
    page = await owner.post(f"/projects/{project_id}/rename", {"name": ""})
    assert page.status_code == 422
    says_once(page, {"name": f"Give the project a name of at most {MAX_NAME} characters."})
    settings = await owner.get(f"/projects/{project_id}/settings")
    assert 'value="Default project"' in settings.text


async def test_an_invitation_shows_its_wrong_email_and_role_together(
    app: FastAPI, owner: WebClient, booted: Bootstrap
) -> None:
    await owner.get("/members")
    page = await owner.post("/members/invite", {"email": "not an email", "role": "emperor"})
    assert page.status_code == 422
    says_once(
        page,
        {
            "email": "Enter an email address like name@example.com.",
            "role": "Choose one of the roles in the list.",
        },
    )
    assert 'value="not an email"' in page.text  # what was typed is kept
    invites = await app.state.runtime.invites.pending(organization_id=booted.organization_id)
    assert list(invites) == []


async def test_accepting_an_invitation_shows_a_long_name_and_a_short_password_together(
    owner: WebClient, browser_factory: Callable[[], WebClient]
) -> None:
    await owner.get("/members")
    sent = await owner.post("/members/invite", {"email": "new@example.com", "role": "member"})
    listed = await owner.get(sent.headers["location"])
    link = re.search(r'value="http[^"]+/(invite\?token=[^"]+)"', listed.text)
    assert link is not None
    guest = browser_factory()
    await guest.get("/" + link.group(1))
    token = link.group(1).split("token=", 1)[1]
    page = await guest.post("/invite", {"token": token, "name": "n" * 201, "password": "short"})
    assert page.status_code == 422
    says_once(
        page,
        {
            "name": "Use a name of at most 200 characters.",
            "password": "Use a password of at least 10 characters.",
        },
    )
    # Nothing was used up: the same link still works once both are right.
    fixed = await guest.post("/invite", {"token": token, "name": "New", "password": "long enough!"})
    assert fixed.status_code == 303


async def test_an_admin_key_without_a_name_is_not_made(
    app: FastAPI, owner: WebClient, booted: Bootstrap
) -> None:
    admin_keys = app.state.runtime.admin_keys
    before = await admin_keys.list(organization_id=booted.organization_id)
    await owner.get("/admin-keys")
    page = await owner.post("/admin-keys", {"name": " "})
    assert page.status_code == 422
    says_once(page, {"name": f"Give the admin key a name of at most {MAX_NAME} characters."})
    after = await admin_keys.list(organization_id=booted.organization_id)
    assert [k.id for k in after.items] == [k.id for k in before.items]


async def test_a_per_model_limit_shows_every_wrong_field_and_changes_nothing(
    app: FastAPI, owner: WebClient, booted: Bootstrap, project_id: str
) -> None:
    controls = f"/projects/{project_id}/controls"
    await owner.get(controls)
    page = await owner.post(
        controls,
        {"action": "model_limit", "model": " ", "rpm": "sixty", "tpm": "1.5", "rpd": "-1"},
    )
    assert page.status_code == 422
    says_once(
        page,
        {
            "model": "Name one model, like gpt-4o-mini.",
            "rpm": "Enter a whole number of requests, like 60, or leave it empty for no limit.",
            "tpm": "Enter a whole number of tokens, like 40000, or leave it empty for no limit.",
            "rpd": DAY_PLAIN,
        },
    )
    limits = await app.state.runtime.admin.model_access.rate_limits(
        organization_id=booted.organization_id, project_id=project_id
    )
    assert limits == {}


@pytest.mark.parametrize("typed", ["0", "-5", "lots", "²", "1000000000001"])
async def test_a_bad_day_limit_is_shown_beside_its_field_and_keeps_the_one_set(
    app: FastAPI, owner: WebClient, booted: Bootstrap, project_id: str, typed: str
) -> None:
    controls = f"/projects/{project_id}/controls"
    await owner.get(controls)
    limit: dict[str, object] = {"action": "model_limit", "model": "gpt-4o", "rpm": "60", "tpm": ""}
    assert (await owner.post(controls, limit | {"rpd": "100"})).status_code == 303
    page = await owner.post(controls, limit | {"rpd": typed})
    assert page.status_code == 422
    says_once(page, {"rpd": DAY_PLAIN})
    assert f'name="rpd" min="1" value="{typed}"' in page.text  # what was typed is kept
    limits = await app.state.runtime.admin.model_access.rate_limits(
        organization_id=booted.organization_id, project_id=project_id
    )
    assert limits == {
        "gpt-4o": ModelLimits(max_requests_per_1_minute=60, max_requests_per_1_day=100)
    }


async def test_model_permissions_show_a_bad_list_kind_and_too_many_models_together(
    owner: WebClient, project_id: str
) -> None:
    controls = f"/projects/{project_id}/controls"
    await owner.get(controls)
    models = ", ".join(f"model-{n}" for n in range(MAX_LIST + 1))
    page = await owner.post(
        controls, {"action": "model_permissions", "mode": "block", "models": models}
    )
    assert page.status_code == 422
    says_once(
        page,
        {
            "mode": "Choose No list, Allow only or Deny.",
            "models": f"List at most {MAX_LIST} model names, separated by commas.",
        },
    )


async def test_the_spend_limit_and_a_service_account_say_what_is_wrong(
    owner: WebClient, project_id: str
) -> None:
    controls = f"/projects/{project_id}/controls"
    await owner.get(controls)
    page = await owner.post(controls, {"action": "spend_limit", "usd": "lots"})
    assert page.status_code == 422
    says_once(page, {"usd": "Give an amount in US dollars, e.g. 250."})
    page = await owner.post(f"{controls}/service_accounts", {"name": ""})
    assert page.status_code == 422
    says_once(page, {"name": f"Give the service account a name of at most {MAX_NAME} characters."})
    assert "No service accounts." in page.text


async def test_the_setup_form_shows_a_bad_email_and_a_short_password_together(
    app: FastAPI, booted: Bootstrap, browser_factory: Callable[[], WebClient]
) -> None:
    token = await app.state.runtime.users.issue_setup_token()
    web = browser_factory()
    await web.get(f"/setup?token={token}")
    page = await web.post(
        "/setup", {"token": token, "name": "Olive", "email": "olive", "password": "short"}
    )
    assert page.status_code == 422
    says_once(
        page,
        {
            "email": "Enter an email address like name@example.com.",
            "password": "Use a password of at least 10 characters.",
        },
    )
    assert 'value="olive"' in page.text

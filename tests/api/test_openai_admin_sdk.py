"""The official ``openai`` SDK's admin client, unchanged, against a real ``keyplane serve``.

Every answer it receives is validated against OpenAI's published spec on the way in (an
``httpx`` event hook), so each test also proves the shapes, not only the SDK's parsing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from keyplane.audit.actor import Actor
from keyplane.services.invites import InviteService
from keyplane.services.users import NewAccount
from keyplane.store.database import Database
from support.openai_spec import check_response
from support.server import ServerProcess


@pytest.fixture(scope="module")
def admin(shared_server: ServerProcess) -> Iterator[openai.OpenAI]:
    http = httpx.Client(event_hooks={"response": [_read_and_check]}, timeout=30)
    client = openai.OpenAI(
        admin_api_key=shared_server.admin_key,
        api_key="unused-by-the-admin-api",
        base_url=f"{shared_server.url}/v1",
        max_retries=0,
        http_client=http,  # type: ignore[arg-type]  # the SDK's stubs name its vendored httpx
    )
    yield client
    http.close()


def _read_and_check(response: httpx.Response) -> None:
    response.read()
    check_response(response)


@pytest.fixture
def project(admin: openai.OpenAI) -> str:
    # Active project names are unique: each test gets a project of its own name.
    return admin.admin.organization.projects.create(name=f"sdk project {secrets.token_hex(4)}").id


def test_projects_are_created_read_renamed_listed_and_archived(admin: openai.OpenAI) -> None:
    projects = admin.admin.organization.projects
    made = projects.create(name="apollo")
    assert made.object == "organization.project" and made.name == "apollo"
    assert projects.retrieve(made.id).id == made.id
    assert projects.update(made.id, name="artemis").name == "artemis"
    assert made.id in {p.id for p in projects.list(limit=100)}
    archived = projects.archive(made.id)
    assert archived.status == "archived" and archived.archived_at is not None


def test_openai_project_parameters_keyplane_lacks_are_refused_with_400(
    admin: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        admin.admin.organization.projects.create(name="eu", residency="EU_STORAGE_PROCESSING")
    assert "does not support 'residency'" in refused.value.message
    with pytest.raises(openai.BadRequestError, match="external_key_id"):
        admin.admin.organization.projects.create(name="ekm", external_key_id="ek_1")


def test_admin_keys_expire_and_list_newest_first(
    admin: openai.OpenAI, shared_server: ServerProcess
) -> None:
    keys = admin.admin.organization.admin_api_keys
    made = keys.create(name="ci", expires_in_seconds=3600)
    assert made.expires_at is not None and made.expires_at - made.created_at == 3600
    assert made.value.startswith("kp_admin_")
    assert made.owner.type == "service_account"
    newest = keys.list(order="desc", limit=1).data[0]
    assert newest.id == made.id
    assert keys.retrieve(made.id).expires_at == made.expires_at
    assert keys.delete(made.id).deleted is True


def test_the_bootstrap_admin_key_names_an_owner(admin: openai.OpenAI) -> None:
    keys = admin.admin.organization.admin_api_keys.list(limit=100).data
    bootstrap = next(k for k in keys if k.name == "Bootstrap admin key")
    assert bootstrap.owner.id == "system"
    assert bootstrap.expires_at is None


def test_service_accounts_return_their_key_once_and_take_it_with_them(
    admin: openai.OpenAI, project: str
) -> None:
    accounts = admin.admin.organization.projects.service_accounts
    made = accounts.create(project, name="billing-bot")
    assert made.api_key is not None and made.api_key.value.startswith("kp_svc_")
    assert accounts.retrieve(made.id, project_id=project).name == "billing-bot"
    assert [a.id for a in accounts.list(project)] == [made.id]
    extra = accounts.api_keys.create(made.id, project_id=project, name="second")
    assert extra.value.startswith("kp_svc_") and extra.value != made.api_key.value

    project_keys = admin.admin.organization.projects.api_keys
    owned = [k for k in project_keys.list(project) if k.owner.type == "service_account"]
    assert {k.id for k in owned} == {made.api_key.id, extra.id}
    assert all(k.owner.service_account and k.owner.service_account.id == made.id for k in owned)
    assert all(k.owner_project_access == "active" for k in owned)

    assert accounts.delete(made.id, project_id=project).deleted is True
    with pytest.raises(openai.NotFoundError):
        accounts.retrieve(made.id, project_id=project)
    left = project_keys.list(project, owner_project_access="any").data
    assert [k for k in left if k.id in {made.api_key.id, extra.id}] == []


def test_project_keys_are_read_and_deleted_in_openai_shape(
    admin: openai.OpenAI, shared_server: ServerProcess
) -> None:
    created = httpx.post(
        f"{shared_server.url}/v1/organization/projects/{shared_server.project_id}/api_keys",
        json={"name": "plain"},
        headers={"Authorization": f"Bearer {shared_server.admin_key}"},
    )
    assert created.status_code == 200
    keys = admin.admin.organization.projects.api_keys
    key = keys.retrieve(created.json()["id"], project_id=shared_server.project_id)
    assert key.owner_project_access == "active"
    assert key.owner.type == "service_account"  # made by an admin key, not by a person
    updated = keys.update(
        key.id,
        project_id=shared_server.project_id,
        scopes=["chat.completions.write"],
        expires_in_seconds=600,
    )
    extra = updated.model_dump()
    assert extra["permissions"] == {"mode": "restricted", "scopes": ["chat.completions.write"]}
    assert extra["expires_at"] - extra["created_at"] >= 600
    assert keys.delete(key.id, project_id=shared_server.project_id).deleted is True


def test_rate_limits_are_per_model_and_refuse_what_keyplane_cannot_enforce(
    admin: openai.OpenAI, project: str
) -> None:
    limits = admin.admin.organization.projects.rate_limits
    assert limits.list_rate_limits(project).data == []
    set_ = limits.update_rate_limit(
        "rl-gpt-4o-mini", project_id=project, max_requests_per_1_minute=5
    )
    assert (set_.model, set_.max_requests_per_1_minute, set_.max_tokens_per_1_minute) == (
        "gpt-4o-mini",
        5,
        0,
    )
    limits.update_rate_limit("rl-gpt-4o", project_id=project, max_tokens_per_1_minute=1000)
    listed = limits.list_rate_limits(project).data
    assert [(r.id, r.max_requests_per_1_minute) for r in listed] == [
        ("rl-gpt-4o", 0),
        ("rl-gpt-4o-mini", 5),
    ]
    with pytest.raises(openai.BadRequestError, match=r"max_images_per_1_minute.*serves no image"):
        limits.update_rate_limit("rl-gpt-4o", project_id=project, max_images_per_1_minute=10)
    with pytest.raises(openai.BadRequestError, match="batch_1_day_max_input_tokens") as refused:
        limits.update_rate_limit("rl-gpt-4o", project_id=project, batch_1_day_max_input_tokens=9)
    assert refused.value.code == "unsupported_parameter"
    cleared = limits.update_rate_limit("rl-gpt-4o", project_id=project, max_tokens_per_1_minute=0)
    assert cleared.max_tokens_per_1_minute == 0
    assert [r.model for r in limits.list_rate_limits(project).data] == ["gpt-4o-mini"]


def test_a_day_limit_per_model_is_set_read_and_cleared_through_the_sdk(
    admin: openai.OpenAI, project: str
) -> None:
    limits = admin.admin.organization.projects.rate_limits
    set_ = limits.update_rate_limit("rl-gpt-4o", project_id=project, max_requests_per_1_day=10)
    assert (set_.max_requests_per_1_day, set_.max_requests_per_1_minute) == (10, 0)
    limits.update_rate_limit("rl-gpt-4o", project_id=project, max_requests_per_1_minute=5)
    (listed,) = limits.list_rate_limits(project).data
    assert (listed.max_requests_per_1_day, listed.max_requests_per_1_minute) == (10, 5)
    cleared = limits.update_rate_limit(
        "rl-gpt-4o", project_id=project, max_requests_per_1_day=0, max_requests_per_1_minute=0
    )
    assert cleared.max_requests_per_1_day == 0
    assert limits.list_rate_limits(project).data == []


def test_model_permissions_are_an_allow_or_deny_list(admin: openai.OpenAI, project: str) -> None:
    permissions = admin.admin.organization.projects.model_permissions
    assert permissions.retrieve(project).api_model_ids == []
    denied = permissions.update(project, mode="deny_list", model_ids=["gpt-4o"])
    assert (denied.mode, denied.api_model_ids) == ("deny_list", ["gpt-4o"])
    allowed = permissions.update(project, mode="allow_list", model_ids=["gpt-4o-mini"])
    assert permissions.retrieve(project).mode == allowed.mode == "allow_list"
    assert permissions.delete(project).deleted is True
    assert permissions.retrieve(project).api_model_ids == []


def test_spend_limits_and_alerts_of_a_project_are_its_budget(
    admin: openai.OpenAI, project: str
) -> None:
    spend = admin.admin.organization.projects.spend_limit
    assert spend.retrieve(project).enforcement.status == "inactive"
    limit = spend.update(project, currency="USD", interval="month", threshold_amount=10_000)
    assert (limit.threshold_amount, limit.enforcement.status) == (10_000, "enforcing")

    alerts = admin.admin.organization.projects.spend_alerts
    channel: Any = {"type": "email", "recipients": []}
    half = alerts.create(
        project,
        currency="USD",
        interval="month",
        notification_channel=channel,
        threshold_amount=5_000,
    )
    assert half.threshold_amount == 5_000
    moved = alerts.update(
        half.id,
        project_id=project,
        currency="USD",
        interval="month",
        notification_channel=channel,
        threshold_amount=8_000,
    )
    assert [a.threshold_amount for a in alerts.list(project)] == [8_000]
    assert alerts.retrieve(moved.id, project_id=project).threshold_amount == 8_000
    with pytest.raises(openai.BadRequestError, match="recipients"):
        alerts.create(
            project,
            currency="USD",
            interval="month",
            threshold_amount=1_000,
            notification_channel={"type": "email", "recipients": ["cfo@example.com"]},
        )
    with pytest.raises(openai.BadRequestError, match="whole percentages"):
        alerts.create(
            project,
            currency="USD",
            interval="month",
            notification_channel=channel,
            threshold_amount=1_234,
        )
    assert alerts.delete(moved.id, project_id=project).deleted is True
    assert spend.delete(project).deleted is True
    assert spend.retrieve(project).threshold_amount == 0


def test_the_organisation_has_a_spend_limit_and_alerts(admin: openai.OpenAI) -> None:
    organization = admin.admin.organization
    limit = organization.spend_limit.update(
        currency="USD", interval="month", threshold_amount=500_000
    )
    assert organization.spend_limit.retrieve().threshold_amount == limit.threshold_amount == 500_000
    channel: Any = {"type": "email", "recipients": []}
    alert = organization.spend_alerts.create(
        currency="USD", interval="month", notification_channel=channel, threshold_amount=250_000
    )
    assert alert.object == "organization.spend_alert"
    assert [a.id for a in organization.spend_alerts.list()] == [alert.id]
    assert organization.spend_alerts.delete(alert.id).deleted is True
    assert organization.spend_limit.delete().deleted is True


def test_invites_users_and_project_users_are_the_organisation_members(
    admin: openai.OpenAI, shared_server: ServerProcess, project: str
) -> None:
    organization = admin.admin.organization
    invite = organization.invites.create(
        email="ada@example.com", role="reader", projects=[{"id": project, "role": "member"}]
    )
    assert (invite.status, invite.role) == ("pending", "reader")
    assert invite.id in {i.id for i in organization.invites.list()}
    token = (invite.model_extra or {})["invite_url"].split("token=")[1]
    user_id = asyncio.run(_accept(shared_server, token))
    assert organization.invites.retrieve(invite.id).status == "accepted"

    user = organization.users.retrieve(user_id)
    assert (user.email, user.role) == ("ada@example.com", "reader")
    assert [u.id for u in organization.users.list(emails=["ada@example.com"])] == [user_id]
    assert organization.users.update(user_id, role="member").role == "member"

    members = organization.projects.users
    assert [u.id for u in members.list(project)] == [user_id]
    other = organization.projects.create(name=f"second {secrets.token_hex(4)}").id
    added = members.create(other, role="member", user_id=user_id)
    assert added.id == user_id and members.retrieve(user_id, project_id=other).role == "member"
    with pytest.raises(openai.BadRequestError, match="per-project owners"):
        members.update(user_id, project_id=other, role="owner")
    assert members.delete(user_id, project_id=other).deleted is True
    assert organization.users.delete(user_id).deleted is True

    gone = organization.invites.create(email="bob@example.com", role="owner")
    assert organization.invites.delete(gone.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        organization.invites.retrieve(gone.id)


async def _accept(server: ServerProcess, token: str) -> str:
    """Accept an invite as the dashboard does, against the server's own database."""
    database = Database(f"sqlite+aiosqlite:///{server.workdir / '.keyplane' / 'keyplane.db'}")
    try:
        user = await InviteService(database).accept(
            token=token,
            account=NewAccount(email="ada@example.com", name="Ada", password="a long passphrase 7"),
            actor=Actor(type="user"),
        )
    finally:
        await database.close()
    return user.id


def test_audit_log_speaks_openai_types_and_keeps_keyplane_names(
    admin: openai.OpenAI, project: str
) -> None:
    accounts = admin.admin.organization.projects.service_accounts
    made = accounts.create(project, name="auditor")
    logs = admin.admin.organization.audit_logs
    by_openai = logs.list(event_types=["service_account.created"], project_ids=[project]).data
    assert [e.service_account_created.id for e in by_openai if e.service_account_created] == [
        made.id
    ]
    assert by_openai[0].actor is not None and by_openai[0].actor.type == "api_key"
    created = logs.list(resource_ids=[made.api_key.id if made.api_key else ""]).data
    assert [e.type for e in created] == ["api_key.created"]
    windowed = logs.list(project_ids=[project], effective_at={"gt": 4102444800}).data
    assert windowed == []
    with pytest.raises(openai.BadRequestError, match="tenant_only"):
        logs.list(tenant_only=True)

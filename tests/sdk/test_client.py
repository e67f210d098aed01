"""The admin client against a real server: the whole key lifecycle, errors, pagination."""

from __future__ import annotations

import pytest

from keyplane.sdk import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    Client,
    ConfigurationError,
    CreatedKey,
    NotFoundError,
    Permissions,
    UnprocessableEntityError,
    VerifyCode,
)
from support.server import ServerProcess, free_port


def test_key_lifecycle_through_client(admin: Client, project_id: str) -> None:
    created = admin.keys.create(
        project_id,
        name="billing service",
        permissions=Permissions(mode="read_only"),
        metadata={"team": "billing"},
    )
    secret = created.value.get_secret_value()
    assert isinstance(created, CreatedKey)
    assert secret.startswith("kp_proj_")
    assert secret not in repr(created) and secret not in str(created.model_dump())

    shown = admin.keys.get(project_id, created.id)
    assert shown.redacted_value == created.redacted_value
    assert not hasattr(shown, "value")
    assert shown.permissions.mode == "read_only"

    renamed = admin.keys.update(project_id, created.id, name="billing", enabled=True)
    assert renamed.name == "billing"
    assert admin.keys.verify(secret, scopes=["models.read"]).code == VerifyCode.VALID

    rotated = admin.keys.rotate(project_id, created.id)
    new_secret = rotated.value.get_secret_value()
    assert rotated.id == created.id and new_secret != secret
    assert admin.keys.verify(secret).code == VerifyCode.REVOKED
    assert admin.keys.verify(new_secret).valid

    deleted = admin.keys.revoke(project_id, created.id)
    assert deleted.deleted and deleted.id == created.id
    assert admin.keys.verify(new_secret).code == VerifyCode.REVOKED
    assert [k.id for k in admin.keys.iter(project_id)] == []
    assert [k.id for k in admin.keys.iter(project_id, include_revoked=True)] == [created.id]

    events = admin.audit_logs.list(target_id=created.id, limit=100)
    assert {"api_key.created", "api_key.updated", "api_key.rotated", "api_key.deleted"} <= {
        e.keyplane_type for e in events.data
    }
    assert {e.type for e in events.data} <= {
        "api_key.created",
        "api_key.updated",
        "api_key.deleted",
    }


def test_iter_follows_pages_to_the_end(admin: Client) -> None:
    names = {f"paged {n}" for n in range(5)}
    made = {admin.projects.create(name).id for name in names}
    first = admin.projects.list(limit=2)
    assert len(first.data) == 2 and first.has_more and first.next_cursor == first.last_id
    seen = [p.id for p in admin.projects.iter(page_size=2)]
    assert made <= set(seen)
    assert len(seen) == len(set(seen))


def test_project_archive_and_admin_keys(admin: Client) -> None:
    project = admin.projects.create("to archive")
    assert admin.projects.rename(project.id, "archived soon").name == "archived soon"
    assert admin.projects.archive(project.id).status == "archived"
    made = admin.admin_keys.create("automation")
    assert made.value.get_secret_value().startswith("kp_admin_")
    assert made.id in {k.id for k in admin.admin_keys.iter()}
    assert admin.admin_keys.revoke(made.id).deleted


def test_errors_are_typed_from_the_envelope(admin: Client, sdk_server: ServerProcess) -> None:
    with pytest.raises(NotFoundError) as missing:
        admin.projects.get("proj_does_not_exist")
    assert missing.value.status_code == 404 and missing.value.code == "not_found"
    with pytest.raises(UnprocessableEntityError) as invalid:
        admin.projects.create("")
    assert invalid.value.param == "name"
    wrong = "kp_admin_" + "A" * 38
    with (
        Client(sdk_server.url, wrong, env_file=None) as stranger,
        pytest.raises(AuthenticationError) as refused,
    ):
        stranger.projects.list()
    assert wrong not in str(refused.value)


def test_if_server_is_unreachable_then_connection_error() -> None:
    with (
        Client(f"http://127.0.0.1:{free_port()}", "kp_admin_x", env_file=None) as client,
        pytest.raises(APIConnectionError),
    ):
        client.projects.list()


def test_if_no_admin_key_then_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYPLANE_ADMIN_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="KEYPLANE_ADMIN_KEY"):
        Client(env_file=None)


async def test_async_client_lifecycle(sdk_server: ServerProcess) -> None:
    async with AsyncClient(sdk_server.url, sdk_server.admin_key, env_file=None) as admin:
        project = await admin.projects.create("async")
        created = await admin.keys.create(project.id, name="a")
        await admin.keys.create(project.id, name="b")
        names = [key.name async for key in admin.keys.iter(project.id, page_size=1)]
        assert sorted(names) == ["a", "b"]
        assert (await admin.keys.verify(created.value.get_secret_value())).valid
        await admin.keys.revoke(project.id, created.id)
        with pytest.raises(NotFoundError):
            await admin.keys.get(project.id, "key_missing")

"""POST /v1/keys/verify: always 200 with ``valid``, a ``code`` and the key's facts."""

from __future__ import annotations

from typing import Any

import httpx

from keyplane.keys.format import KeyKind, generate_key

Headers = dict[str, str]


async def verify(client: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/keys/verify", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_valid_key_reports_its_facts(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str, api_key: dict[str, Any]
) -> None:
    result = await verify(client, admin_headers, key=api_key["value"])
    assert result["valid"] is True
    assert result["code"] == "VALID"
    assert result["key_id"] == api_key["id"]
    assert result["project_id"] == project_id
    assert result["permissions"]["mode"] == "all"
    assert result["allowed_models"] == []
    assert result["expires_at"] is None
    assert result["metadata"] == {}
    assert api_key["value"] not in str(result)


async def test_malformed_and_unknown_keys(
    client: httpx.AsyncClient, admin_headers: Headers
) -> None:
    assert (await verify(client, admin_headers, key="hello"))["code"] == "MALFORMED"
    good = generate_key(KeyKind.PROJECT)
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert (await verify(client, admin_headers, key=tampered))["code"] == "MALFORMED"
    assert (await verify(client, admin_headers, key=good)) == {
        **(await verify(client, admin_headers, key=good)),
        "valid": False,
        "code": "NOT_FOUND",
    }


async def test_missing_scope_is_reported(
    client: httpx.AsyncClient, admin_headers: Headers, project_id: str
) -> None:
    created = (
        await client.post(
            f"/v1/organization/projects/{project_id}/api_keys",
            json={"name": "reader", "permissions": {"mode": "read_only"}},
            headers=admin_headers,
        )
    ).json()
    result = await verify(
        client,
        admin_headers,
        key=created["value"],
        scopes=["models.read", "chat.completions.write"],
    )
    assert result["valid"] is False
    assert result["code"] == "INSUFFICIENT_PERMISSIONS"
    assert result["missing_scopes"] == ["chat.completions.write"]
    ok = await verify(client, admin_headers, key=created["value"], scopes=["models.read"])
    assert ok["valid"] is True


async def test_key_of_another_organisation_is_not_found(
    client: httpx.AsyncClient, admin_headers: Headers, app: Any, clock: Any
) -> None:
    from keyplane.audit.actor import SYSTEM
    from keyplane.services.admin_keys import issue_admin_key
    from keyplane.services.api_keys import KeySpec
    from keyplane.store.models import Organization, Project

    services = app.state.runtime
    async with services.database.session() as session, session.begin():
        other = Organization(name="Other org")
        session.add(other)
        await session.flush()
        project = Project(organization_id=other.id, name="theirs")
        session.add(project)
        await issue_admin_key(
            session, organization_id=other.id, name="x", actor=SYSTEM, brand="kp", now=clock()
        )
    theirs = await services.keys.create(
        organization_id=other.id, project_id=project.id, spec=KeySpec(name="t"), actor=SYSTEM
    )
    result = await verify(client, admin_headers, key=theirs.plaintext)
    assert result == {**result, "valid": False, "code": "NOT_FOUND", "key_id": None}

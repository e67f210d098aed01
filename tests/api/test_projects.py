"""/v1/organization/projects: list, create, get, update, archive."""

from __future__ import annotations

import httpx

BASE = "/v1/organization/projects"


async def test_bootstrap_made_the_default_project(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    page = (await client.get(BASE, headers=admin_headers)).json()
    assert page["object"] == "list"
    assert [p["name"] for p in page["data"]] == ["Default project"]
    assert page["has_more"] is False


async def test_create_get_rename_archive(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await client.post(BASE, json={"name": "Search"}, headers=admin_headers)
    assert created.status_code == 200
    project = created.json()
    assert project["object"] == "organization.project"
    assert project["id"].startswith("proj_")
    assert isinstance(project["created_at"], int)

    fetched = (await client.get(f"{BASE}/{project['id']}", headers=admin_headers)).json()
    assert fetched == project

    renamed = await client.post(
        f"{BASE}/{project['id']}", json={"name": "Search v2"}, headers=admin_headers
    )
    assert renamed.json()["name"] == "Search v2"

    archived = await client.post(f"{BASE}/{project['id']}/archive", headers=admin_headers)
    assert archived.json()["status"] == "archived"
    assert archived.json()["archived_at"] is not None

    listed = (await client.get(BASE, headers=admin_headers)).json()
    assert project["id"] not in [p["id"] for p in listed["data"]]
    everything = (
        await client.get(BASE, params={"include_archived": "true"}, headers=admin_headers)
    ).json()
    assert project["id"] in [p["id"] for p in everything["data"]]


async def test_archived_project_refuses_new_keys(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    project = (await client.post(BASE, json={"name": "Old"}, headers=admin_headers)).json()
    await client.post(f"{BASE}/{project['id']}/archive", headers=admin_headers)
    response = await client.post(
        f"{BASE}/{project['id']}/api_keys", json={"name": "k"}, headers=admin_headers
    )
    assert response.status_code == 409
    assert "archived" in response.json()["error"]["message"]


async def test_pagination_walks_every_project_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for i in range(7):
        await client.post(BASE, json={"name": f"p{i}"}, headers=admin_headers)
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": 3} | ({"after": after} if after else {})
        page = (await client.get(BASE, params=params, headers=admin_headers)).json()
        seen += [p["id"] for p in page["data"]]
        assert page["first_id"] == page["data"][0]["id"]
        assert page["last_id"] == page["data"][-1]["id"]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert len(seen) == len(set(seen)) == 8


async def test_unknown_project_is_404_in_openai_envelope(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(f"{BASE}/proj_nope", headers=admin_headers)
    assert response.status_code == 404
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "not_found"

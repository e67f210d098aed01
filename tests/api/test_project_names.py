"""Active project names are unique in an organisation, so a name finds exactly one project."""

from __future__ import annotations

import asyncio

import httpx

BASE = "/v1/organization/projects"


async def test_a_second_active_project_with_the_same_name_is_a_409(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    first = await client.post(BASE, json={"name": "Search"}, headers=admin_headers)
    assert first.status_code == 200
    again = await client.post(BASE, json={"name": "  search "}, headers=admin_headers)
    assert again.status_code == 409
    error = again.json()["error"]
    assert (error["code"], error["param"]) == ("project_name_taken", "name")
    assert first.json()["id"] in error["message"]
    names = [p["name"] for p in (await client.get(BASE, headers=admin_headers)).json()["data"]]
    assert names.count("Search") == 1


async def test_renaming_onto_an_active_name_is_a_409_but_renaming_to_itself_is_not(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.post(BASE, json={"name": "Billing"}, headers=admin_headers)
    other = (await client.post(BASE, json={"name": "Ads"}, headers=admin_headers)).json()
    clash = await client.post(
        f"{BASE}/{other['id']}", json={"name": "BILLING"}, headers=admin_headers
    )
    assert clash.status_code == 409
    same = await client.post(f"{BASE}/{other['id']}", json={"name": "ADS"}, headers=admin_headers)
    assert same.status_code == 200 and same.json()["name"] == "ADS"


async def test_an_archived_project_frees_its_name(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    old = (await client.post(BASE, json={"name": "Search"}, headers=admin_headers)).json()
    await client.post(f"{BASE}/{old['id']}/archive", headers=admin_headers)
    new = await client.post(BASE, json={"name": "Search"}, headers=admin_headers)
    assert new.status_code == 200 and new.json()["id"] != old["id"]


async def test_parallel_creates_of_one_name_make_one_project(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    # Ten creates in flight together: without the organisation lock each would see no
    # "Race" yet and insert one.
    answers = await asyncio.gather(
        *(client.post(BASE, json={"name": "Race"}, headers=admin_headers) for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 9
    listed = (await client.get(BASE, headers=admin_headers)).json()["data"]
    assert [p["name"] for p in listed].count("Race") == 1

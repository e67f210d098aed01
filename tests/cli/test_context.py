"""Finding a key's project: only a 404 means "not in this project"; other failures speak."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from keyplane.cli.client import AdminClient
from keyplane.cli.context import find_key_project
from keyplane.cli.errors import CliError
from keyplane.config import ClientSettings

PROJECTS = {"data": [{"id": "proj_a"}, {"id": "proj_b"}], "has_more": False, "last_id": "proj_b"}

# How one project answers GET .../api_keys/key_1.
Answer = Callable[[httpx.Request], httpx.Response]


def client_answering(in_proj_a: Answer, in_proj_b: Answer) -> AdminClient:
    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/organization/projects":
            return httpx.Response(200, json=PROJECTS)
        if path == "/v1/organization/projects/proj_a/api_keys/key_1":
            return in_proj_a(request)
        if path == "/v1/organization/projects/proj_b/api_keys/key_1":
            return in_proj_b(request)
        return httpx.Response(404, json={"error": {"message": f"no route {path}"}})

    settings = ClientSettings(url="http://keyplane.test", admin_key=SecretStr("kp_admin_x"))
    return AdminClient(settings, transport=httpx.MockTransport(answer))


def found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "key_1"})


def not_found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, json={"error": {"message": "No API key key_1."}})


def refused(status: int, message: str) -> Answer:
    return lambda request: httpx.Response(status, json={"error": {"message": message}})


def dropped(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def test_if_404_in_one_project_then_the_next_project_is_asked() -> None:
    with client_answering(not_found, found) as client:
        assert find_key_project(client, "key_1", None) == "proj_b"


def test_if_404_in_every_project_then_no_such_key() -> None:
    with client_answering(not_found, not_found) as client, pytest.raises(CliError) as raised:
        find_key_project(client, "key_1", None)
    assert str(raised.value) == "no API key with id 'key_1' in any project"


@pytest.mark.parametrize(
    ("in_proj_a", "words"),
    [
        (refused(401, "Invalid admin key."), "server answered 401: Invalid admin key."),
        (refused(500, "Internal error."), "server answered 500: Internal error."),
        (refused(403, "Forbidden."), "server answered 403: Forbidden."),
        (dropped, "cannot reach keyplane server at http://keyplane.test"),
    ],
)
def test_if_lookup_fails_otherwise_then_its_own_error_propagates(
    in_proj_a: Answer, words: str
) -> None:
    with client_answering(in_proj_a, found) as client, pytest.raises(CliError) as raised:
        find_key_project(client, "key_1", None)
    assert words in str(raised.value)
    assert "no API key" not in str(raised.value)

"""The CLI's small promises: unique names, flags named as typed, secrets never echoed, asking
before what cannot be undone, and saying so when there is nothing to do."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import httpx
import pytest

from support.server import ServerProcess


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def created_key(server: ServerProcess, *args: str) -> dict[str, Any]:
    made: dict[str, Any] = json.loads(ok(server.keyplane("keys", "create", *args, "--json")))
    return made


def test_a_second_active_project_of_the_same_name_is_refused_and_the_name_still_works(
    shared_server: ServerProcess,
) -> None:
    first = json.loads(ok(shared_server.keyplane("projects", "create", "Search", "--json")))
    line = one_line_error(shared_server.keyplane("projects", "create", "search"))
    assert "409" in line and "already named 'Search'" in line and first["id"] in line
    created_key(shared_server, "--project", "Search", "--name", "still found")


def test_an_archived_namesake_does_not_hide_the_active_project(
    shared_server: ServerProcess,
) -> None:
    old = json.loads(ok(shared_server.keyplane("projects", "create", "Ads", "--json")))
    ok(shared_server.keyplane("projects", "archive", "Ads", "--yes"))
    new = json.loads(ok(shared_server.keyplane("projects", "create", "Ads", "--json")))
    assert new["id"] != old["id"]
    shown = json.loads(ok(shared_server.keyplane("projects", "show", "Ads", "--json")))
    assert shown["id"] == new["id"]


def test_keys_list_says_which_project_it_lists(shared_server: ServerProcess) -> None:
    listed = ok(shared_server.keyplane("keys", "list"))
    first = listed.splitlines()[0]
    assert f"of project 'Default project' ({shared_server.project_id})" in first
    assert "without revoked" in first
    everything = ok(shared_server.keyplane("keys", "list", "--all")).splitlines()[0]
    assert everything.startswith("keys of project 'Default project'")


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--budget-usd", "abc"], "--budget-usd"),
        (["--budget-usd", "0.0000001"], "--budget-usd"),
        (["--budget-usd", "-5"], "--budget-usd"),
        (["--scope", "Not A Scope"], "--scope"),
        (["--permissions", "restricted"], "--scope"),
        (["--model", " "], "--model"),
        (["--allow-ip", "10.0.0.300"], "--allow-ip"),
        (["--expires-at", "2001-01-01"], "--expires-in/--expires-at"),
        (["--metadata", "=x"], "--metadata"),
    ],
)
def test_bad_flags_are_refused_before_sending_and_named_as_flags(
    shared_server: ServerProcess, flags: list[str], named: str
) -> None:
    line = one_line_error(shared_server.keyplane("keys", "create", "--name", "bad", *flags))
    assert named in line
    for field in ("limit_usd", "permissions.", "allowed_", "expires_at", "server answered"):
        assert field not in line.lower(), line
    keys = json.loads(ok(shared_server.keyplane("keys", "list", "--json")))
    assert "bad" not in [k["name"] for k in keys]


def test_too_many_metadata_pairs_are_refused_as_the_flag(shared_server: ServerProcess) -> None:
    pairs = [arg for i in range(50) for arg in ("--metadata", f"k{i}=v")]
    line = one_line_error(shared_server.keyplane("keys", "create", "--name", "many", *pairs))
    assert line == "Error: --metadata takes at most 16 pairs."


def test_a_server_refusal_about_a_field_names_the_flag(shared_server: ServerProcess) -> None:
    # Only the server knows the longest grace period; its answer names --grace, not the field.
    key = created_key(shared_server, "--name", "long grace")
    line = one_line_error(shared_server.keyplane("keys", "rotate", key["id"], "--grace", "400d"))
    assert line.startswith("Error: server answered 422: ") and "--grace" in line
    assert "grace_period_seconds" not in line


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "show", "{secret}"],
        ["keys", "revoke", "{secret}", "--yes"],
        ["keys", "rotate", "{secret}"],
        ["keys", "list", "--project", "{secret}"],
        ["projects", "show", "{secret}"],
        ["admin-keys", "revoke", "{secret}", "--yes"],
        ["audit", "--target", "{secret}"],
    ],
)
def test_a_secret_given_where_an_id_belongs_is_never_echoed(
    shared_server: ServerProcess, args: list[str]
) -> None:
    secret = created_key(shared_server, "--name", "pasted")["value"]
    result = shared_server.keyplane(*(a.replace("{secret}", secret) for a in args))
    line = one_line_error(result)
    assert "secret key" in line and "not sent" in line
    assert secret not in result.stdout + result.stderr
    assert secret[8:20] not in result.stdout + result.stderr


def test_the_admin_api_does_not_echo_a_secret_sent_as_an_id(shared_server: ServerProcess) -> None:
    secret = created_key(shared_server, "--name", "pasted in a URL")["value"]
    answer = httpx.get(
        f"{shared_server.url}/v1/organization/projects/{shared_server.project_id}/api_keys/{secret}",
        headers={"Authorization": f"Bearer {shared_server.admin_key}"},
    )
    assert answer.status_code == 404
    assert secret not in answer.text and secret[8:30] not in answer.text
    assert secret[-4:] in answer.json()["error"]["message"]  # the redacted form says which


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "localhost", "ftp://127.0.0.1"])
def test_keyplane_url_without_http_scheme_is_explained(
    shared_server: ServerProcess, url: str
) -> None:
    line = one_line_error(shared_server.keyplane("projects", "list", env={"KEYPLANE_URL": url}))
    assert "KEYPLANE_URL must start with http:// or https://" in line


def test_archive_asks_first_and_takes_yes(shared_server: ServerProcess) -> None:
    ok(shared_server.keyplane("projects", "create", "Doomed"))
    refused = shared_server.keyplane("projects", "archive", "Doomed", input="")
    line = one_line_error(refused)
    assert "was not archived" in line and "--yes" in line
    assert "Archive project 'Doomed'" in refused.stdout  # the question that went unanswered
    shown = json.loads(ok(shared_server.keyplane("projects", "show", "Doomed", "--json")))
    assert shown["status"] == "active"

    said_no = shared_server.keyplane("projects", "archive", "Doomed", input="n\n")
    assert "was not archived" in one_line_error(said_no)

    archived = ok(shared_server.keyplane("projects", "archive", "Doomed", input="y\n"))
    assert "archived" in archived
    again = ok(shared_server.keyplane("projects", "archive", shown["id"]))
    assert f"project {shown['id']} was already archived" in again


def test_revoke_asks_first_and_says_when_the_key_was_already_revoked(
    shared_server: ServerProcess,
) -> None:
    key = created_key(shared_server, "--name", "to revoke")
    refused = shared_server.keyplane("keys", "revoke", key["id"], input="")
    assert f"{key['id']} was not revoked" in one_line_error(refused)
    assert key["redacted_value"] in refused.stdout  # the question names the key
    assert ok(shared_server.keyplane("keys", "revoke", key["id"], "--yes")).strip() == (
        f"revoked {key['id']}"
    )
    again = ok(shared_server.keyplane("keys", "revoke", key["id"], "--yes"))
    assert f"{key['id']} was already revoked on" in again and "nothing changed" in again
    as_json = json.loads(ok(shared_server.keyplane("keys", "revoke", key["id"], "--json")))
    assert as_json["already_revoked"] is True
    events = json.loads(ok(shared_server.keyplane("audit", "--target", key["id"], "--json")))
    assert [e["type"] for e in events["data"]].count("api_key.deleted") == 1

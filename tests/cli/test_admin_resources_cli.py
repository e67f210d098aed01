"""The CLI shows and edits what OpenAI's admin resources added: service accounts, per-model
limits, model permissions, spend limits and alerts, admin key expiry."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from support.server import ServerProcess


def ok(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    result = server.keyplane(*args)
    assert result.returncode == 0, result.stderr
    return result


def run_json(server: ServerProcess, *args: str) -> Any:
    return json.loads(ok(server, *args, "--json").stdout)


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1, result.stderr
    for word in words:
        assert word in line, line


def test_service_accounts_through_the_cli(shared_server: ServerProcess) -> None:
    project = shared_server.project_id
    made = run_json(
        shared_server, "service-accounts", "create", "--project", project, "--name", "etl"
    )
    assert made["api_key"]["value"].startswith("kp_svc_")
    second = run_json(
        shared_server,
        "service-accounts",
        "add-key",
        "--project",
        project,
        made["id"],
        "--scope",
        "chat.completions.write",
        "--expires-in",
        "30d",
    )
    assert second["expires_at"] is not None
    shown = run_json(shared_server, "service-accounts", "show", "--project", project, made["id"])
    assert {k["id"] for k in shown["api_keys"]} == {made["api_key"]["id"], second["id"]}
    listed = ok(shared_server, "service-accounts", "list", "--project", project).stdout
    assert "etl" in listed
    assert made["api_key"]["value"] not in listed
    ok(shared_server, "service-accounts", "delete", "--project", project, made["id"], "--yes")
    gone = shared_server.keyplane("service-accounts", "show", "--project", project, made["id"])
    one_line_error(gone, made["id"])


def test_model_limits_and_permissions_through_the_cli(shared_server: ServerProcess) -> None:
    project = shared_server.project_id
    ok(shared_server, "model-limits", "set", "--project", project, "gpt-4o", "--rpm", "60")
    ok(shared_server, "model-limits", "set", "--project", project, "gpt-4o", "--tpm", "9000")
    limits = run_json(shared_server, "model-limits", "list", "--project", project)
    assert [
        (r["model"], r["max_requests_per_1_minute"], r["max_tokens_per_1_minute"]) for r in limits
    ] == [("gpt-4o", 60, 9000)]
    ok(shared_server, "model-limits", "clear", "--project", project, "gpt-4o")
    assert run_json(shared_server, "model-limits", "list", "--project", project) == []
    one_line_error(
        shared_server.keyplane("model-limits", "set", "--project", project, "gpt-4o"), "--rpm"
    )

    ok(shared_server, "model-permissions", "deny", "--project", project, "o1*", "gpt-4")
    shown = ok(shared_server, "model-permissions", "show", "--project", project).stdout
    assert "deny_list: all but o1*, gpt-4" in shown
    ok(shared_server, "model-permissions", "clear", "--project", project)
    assert (
        "every model" in ok(shared_server, "model-permissions", "show", "--project", project).stdout
    )


def test_a_day_limit_is_set_shown_audited_and_cleared_through_the_cli(
    shared_server: ServerProcess,
) -> None:
    project, model = shared_server.project_id, "gpt-4o-mini"
    limit = ("model-limits", "set", "--project", project, model)
    said = ok(shared_server, *limit, "--rpm", "60", "--rpd", "1000").stdout
    assert "max_requests_per_1_day 1000" in said
    listed = ok(shared_server, "model-limits", "list", "--project", project).stdout
    assert "REQUESTS/DAY (UTC)" in listed.splitlines()[0]
    assert [line.split() for line in listed.splitlines() if model in line] == [
        [model, "60", "-", "1000"]
    ]
    events = run_json(shared_server, "audit", "--project", project, "--target", f"rl-{model}")
    latest = events["data"][0]
    assert latest["keyplane_type"] == "rate_limit.updated"
    assert latest["data"]["changes_requested"]["max_requests_per_1_day"] == 1000

    ok(shared_server, *limit, "--rpd", "none")
    limits = run_json(shared_server, "model-limits", "list", "--project", project)
    assert [
        (r["model"], r["max_requests_per_1_minute"], r["max_requests_per_1_day"]) for r in limits
    ] == [(model, 60, 0)]  # the minute limit stays
    ok(shared_server, "model-limits", "clear", "--project", project, model)
    assert run_json(shared_server, "model-limits", "list", "--project", project) == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0", ["--rpd", "would remove the day limit", "--rpd none"]),
        ("-5", ["--rpd", "1 or more", "'-5'"]),
        ("lots", ["--rpd", "whole number", "'lots'"]),
        ("1000000000001", ["--rpd", "1000000000000"]),
    ],
)
def test_a_bad_day_limit_is_refused_in_one_line_and_nothing_is_set(
    shared_server: ServerProcess, value: str, words: list[str]
) -> None:
    project = shared_server.project_id
    refused = shared_server.keyplane(
        "model-limits", "set", "--project", project, "gpt-4o-mini", "--rpd", value
    )
    one_line_error(refused, *words)
    assert refused.returncode == 2  # a usage error, as click gives
    assert run_json(shared_server, "model-limits", "list", "--project", project) == []


def test_spend_limits_and_alerts_through_the_cli(shared_server: ServerProcess) -> None:
    project = shared_server.project_id
    assert "no spend limit" in ok(shared_server, "spend-limit", "show", "--project", project).stdout
    ok(shared_server, "spend-limit", "set", "--project", project, "200")
    assert (
        "$200.00 per month" in ok(shared_server, "spend-limit", "show", "--project", project).stdout
    )
    ok(shared_server, "spend-alerts", "add", "--project", project, "150")
    alerts = run_json(shared_server, "spend-alerts", "list", "--project", project)
    assert [(a["threshold_amount"], a["threshold_percent"]) for a in alerts] == [(15_000, 75)]
    one_line_error(
        shared_server.keyplane("spend-alerts", "add", "--project", project, "1.23"), "percent"
    )
    ok(shared_server, "spend-alerts", "remove", "--project", project, alerts[0]["id"])
    ok(shared_server, "spend-limit", "set", "1000")  # the organisation's
    assert "$1,000.00" in ok(shared_server, "spend-limit", "show").stdout
    ok(shared_server, "spend-limit", "clear")
    ok(shared_server, "spend-limit", "clear", "--project", project)


def test_admin_keys_expire_through_the_cli(shared_server: ServerProcess) -> None:
    made = run_json(shared_server, "admin-keys", "create", "--name", "temp", "--expires-in", "1h")
    assert made["expires_at"] - made["created_at"] == 3600
    ok(shared_server, "admin-keys", "revoke", made["id"], "--yes")


def test_audit_shows_keyplane_names_and_filters_by_project(shared_server: ServerProcess) -> None:
    project = shared_server.project_id
    ok(shared_server, "model-permissions", "deny", "--project", project, "gpt-3.5*")
    events = run_json(shared_server, "audit", "--project", project, "--type", "project.updated")
    assert events["data"][0]["keyplane_type"] == "project.model_permissions_updated"
    table = ok(shared_server, "audit", "--project", project).stdout
    assert "project.model_permissions_updated" in table

"""The CLI against a real server: tables for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.server import ServerProcess


def run_json(server: ServerProcess, *args: str, **kwargs: Any) -> Any:
    result = server.keyplane(*args, "--json", **kwargs)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_projects_create_list_show_rename_archive(shared_server: ServerProcess) -> None:
    project = run_json(shared_server, "projects", "create", "Billing")
    assert project["name"] == "Billing"
    listed = shared_server.keyplane("projects", "list")
    assert "Billing" in listed.stdout and "Default project" in listed.stdout
    assert listed.stdout.splitlines()[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert run_json(shared_server, "projects", "show", "Billing")["id"] == project["id"]
    renamed = run_json(shared_server, "projects", "rename", project["id"], "Billing v2")
    assert renamed["name"] == "Billing v2"
    archived = run_json(shared_server, "projects", "archive", "Billing v2")
    assert archived["status"] == "archived"


def test_key_lifecycle_through_the_cli(shared_server: ServerProcess) -> None:
    created = run_json(
        shared_server,
        "keys",
        "create",
        "--name",
        "ci",
        "--permissions",
        "restricted",
        "--scope",
        "models.read",
        "--model",
        "gpt-4o",
        "--allow-ip",
        "10.0.0.0/8",
        "--expires-in",
        "30d",
        "--metadata",
        "team=search",
    )
    assert created["value"].startswith("kp_proj_")
    assert created["permissions"] == {"mode": "restricted", "scopes": ["models.read"]}
    assert created["metadata"] == {"team": "search"}
    key_id = created["id"]

    table = shared_server.keyplane("keys", "list")
    assert key_id in table.stdout
    assert created["value"] not in table.stdout

    shown = shared_server.keyplane("keys", "show", key_id)
    assert "restricted: models.read" in shown.stdout

    updated = run_json(shared_server, "keys", "update", key_id, "--name", "ci-2", "--disable")
    assert (updated["name"], updated["status"]) == ("ci-2", "disabled")

    rotated = run_json(shared_server, "keys", "rotate", key_id, "--grace", "1h")
    assert rotated["id"] == key_id and rotated["value"] != created["value"]

    revoked = run_json(shared_server, "keys", "revoke", key_id)
    assert revoked["deleted"] is True
    events = run_json(shared_server, "audit", "--target", key_id)
    assert [e["keyplane_type"] for e in events["data"]][:3] == [
        "api_key.deleted",
        "api_key.rotated",
        "api_key.updated",
    ]


def test_create_with_env_file_writes_0600_and_ignores_it_in_git(
    shared_server: ServerProcess, tmp_path: Path
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    env_file = tmp_path / ".env"
    env_file.write_text("KEEP=1\nOPENAI_API_KEY=old\nexport OTHER=2\n")
    env_file.chmod(0o600)
    result = shared_server.keyplane(
        "keys", "create", "--name", "app", "--env-file", str(env_file), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "kp_proj_" not in result.stdout.replace("kp_proj_...", "")
    lines = env_file.read_text().splitlines()
    assert lines[0] == "KEEP=1" and lines[2] == "export OTHER=2"
    assert lines[1].startswith("OPENAI_API_KEY=kp_proj_")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "/.env" in (tmp_path / ".gitignore").read_text()
    ignored = subprocess.run(["git", "check-ignore", "-q", str(env_file)], cwd=tmp_path)
    assert ignored.returncode == 0


def test_env_file_is_created_private_with_a_custom_variable(
    shared_server: ServerProcess, tmp_path: Path
) -> None:
    env_file = tmp_path / "new.env"
    result = shared_server.keyplane(
        "keys", "create", "--name", "svc", "--env-file", str(env_file), "--env-var", "MY_KEY"
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text().startswith("MY_KEY=kp_proj_")
    assert not (tmp_path / ".gitignore").exists()  # not a git work tree


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["projects", "list"], {"KEYPLANE_URL": "http://127.0.0.1:9"}, ["cannot reach"]),
        (["projects", "list"], {"KEYPLANE_ADMIN_KEY": ""}, ["admin key"]),
        (["projects", "show", "proj_missing"], {}, ["404"]),
        (["keys", "create", "--name", "x", "--expires-in", "soon"], {}, ["--expires-in"]),
        (["keys", "create", "--name", "x", "--allow-ip", "nope"], {}, ["422", "IP"]),
        (["keys", "create", "--name", "x", "--metadata", "novalue"], {}, ["KEY=VALUE"]),
        (["keys", "show", "key_missing"], {}, ["no API key"]),
        (["audit", "--since", "yesterday"], {}, ["--since"]),
        (["projects", "show", "No such project"], {}, ["no project named"]),
    ],
)
def test_expected_failures_print_one_line_and_exit_non_zero(
    shared_server: ServerProcess, args: list[str], env: dict[str, str], words: list[str]
) -> None:
    result = shared_server.keyplane(*args, env=env)
    assert_one_line_error(result, *words)


def test_bad_flag_is_a_usage_error(shared_server: ServerProcess) -> None:
    result = shared_server.keyplane("keys", "list", "--colour")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_admin_keys_and_env_file_settings(shared_server: ServerProcess, tmp_path: Path) -> None:
    # KEYPLANE_URL and KEYPLANE_ADMIN_KEY come from a .env in the working directory too.
    (tmp_path / ".env").write_text(
        f"KEYPLANE_URL={shared_server.url}\nKEYPLANE_ADMIN_KEY={shared_server.admin_key}\n"
    )
    env = {"KEYPLANE_URL": "", "KEYPLANE_ADMIN_KEY": ""}
    clean_env = {k: v for k, v in shared_server.env.items() if k not in env}
    result = subprocess.run(
        [*_python_keyplane(), "admin-keys", "list", "--json"],
        cwd=tmp_path,
        env=clean_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["name"] == "Bootstrap admin key"


def _python_keyplane() -> list[str]:
    import sys

    return [sys.executable, "-m", "keyplane"]


def test_python_dash_m_and_version(shared_server: ServerProcess) -> None:
    result = shared_server.keyplane("--version")
    assert result.returncode == 0
    assert "keyplane" in result.stdout
    assert os.path.exists(shared_server.workdir / ".keyplane" / "keyplane.db")


def test_help_lists_every_command_including_scan_and_doctor(tmp_path: Path) -> None:
    result = subprocess.run(
        [*_python_keyplane(), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    commands = result.stdout.partition("Commands:")[2]
    listed = {line.split()[0] for line in commands.splitlines() if line.strip()}
    assert listed == {
        "admin-keys",
        "audit",
        "doctor",
        "init",
        "keys",
        "model-limits",
        "model-permissions",
        "projects",
        "scan",
        "serve",
        "service-accounts",
        "spend-alerts",
        "spend-limit",
        "upstreams",
        "usage",
        "webhook",
    }


def test_limits_and_budget_flags_on_keys_and_projects(shared_server: ServerProcess) -> None:
    created = run_json(
        shared_server,
        "keys",
        "create",
        "--name",
        "limited",
        "--limit-rpm",
        "60",
        "--budget-usd",
        "12.50",
        "--budget-period",
        "day",
        "--budget-alert",
        "80",
    )
    assert created["rate_limits"]["requests_per_minute"] == 60
    assert created["budget"]["limit_micro_usd"] == 12_500_000
    # A partial change keeps the other limits.
    updated = run_json(shared_server, "keys", "update", created["id"], "--limit-tpm", "5000")
    assert updated["rate_limits"] == {
        "requests_per_minute": 60,
        "tokens_per_minute": 5000,
        "max_parallel_requests": None,
    }
    shown = shared_server.keyplane("keys", "show", created["id"])
    assert "60 req/min, 5000 tokens/min" in shown.stdout
    assert "$12.50 per day (alerts at 80%)" in shown.stdout
    cleared = run_json(shared_server, "keys", "update", created["id"], "--no-budget")
    assert cleared["budget"] is None

    project = run_json(
        shared_server, "projects", "update", "Default project", "--limit-parallel", "4"
    )
    assert project["rate_limits"]["max_parallel_requests"] == 4

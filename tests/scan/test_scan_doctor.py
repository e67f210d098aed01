"""``keyplane doctor``: a checklist over a real git project."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from keyplane.cli.scan import doctor_command
from keyplane.keys.format import KeyKind, generate_key
from keyplane.scan.doctor import ProjectDir, Status, is_env_file, no_hardcoded_keys, run_doctor
from keyplane.scan.patterns import Detector
from scan.scan_fakes import Repo, samples


def doctor(*args: str) -> Result:
    return CliRunner().invoke(doctor_command, list(args))


def statuses(result: Result) -> dict[str, str]:
    return {c["check"]: c["status"] for c in json.loads(result.stdout)["checks"]}


def clean_project(repo: Repo) -> None:
    repo.write(".gitignore", ".env\n")
    repo.write(".env.example", "OPENAI_API_KEY=\n")
    repo.write("app.py", "import os\n\nkey = os.environ['OPENAI_API_KEY']\n")
    repo.commit("clean")
    repo.write(".env", "OPENAI_API_KEY=" + generate_key(KeyKind.PROJECT) + "\n")
    (repo.root / ".env").chmod(0o600)


def test_clean_project_passes(repo: Repo) -> None:
    clean_project(repo)
    result = doctor("--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    checks = statuses(result)
    assert "FAIL" not in checks.values()
    assert checks["code reads keys from the environment"] == "PASS"
    assert checks[".env is ignored by git"] == "PASS"


def test_tracked_env_fails(repo: Repo) -> None:
    repo.write(".env", "OPENAI_API_KEY=x\n")
    repo.commit("oops")
    result = doctor("--json")
    assert result.exit_code == 1
    checks = statuses(result)
    assert checks[".env is ignored by git"] == "FAIL"
    assert checks["no .env file was ever committed"] == "FAIL"


def test_env_committed_once_and_removed_still_fails(repo: Repo) -> None:
    clean_project(repo)
    repo.write("deploy/prod.env", "TOKEN=x\n")
    repo.commit("add")
    repo.git("rm", "-q", "deploy/prod.env")
    repo.commit("remove")
    result = doctor("--json")
    assert statuses(result)["no .env file was ever committed"] == "FAIL"
    assert "deploy/prod.env" in result.output


def test_hard_coded_key_and_literal_assignment_are_reported(repo: Repo) -> None:
    clean_project(repo)
    _, secret = samples()["openai-project"]
    repo.write("client.py", f"api_key = '{secret}'\n")
    result = doctor("--json")
    assert result.exit_code == 1
    assert secret not in result.output
    checks = statuses(result)
    assert checks["no hard-coded keys in source"] == "FAIL"
    assert checks["code reads keys from the environment"] == "WARN"


def test_world_readable_env_warns_and_table_output_has_one_line_per_check(repo: Repo) -> None:
    clean_project(repo)
    (repo.root / ".env").chmod(0o644)
    result = doctor()
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 7
    assert any(line.startswith("WARN") and "chmod 600" in line for line in lines)


def test_example_with_real_value_fails(repo: Repo) -> None:
    clean_project(repo)
    repo.write(".env.example", "OPENAI_API_KEY=" + generate_key(KeyKind.PROJECT) + "\n")
    assert statuses(doctor("--json"))[".env.example has no real values"] == "FAIL"


class Verifier:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def request(self, method: str, path: str, *, json: Any = None) -> Any:
        return self.answer


def test_live_key_check_uses_the_server(repo: Repo) -> None:
    clean_project(repo)
    name = "OPENAI_API_KEY is a live keyplane key"

    def live_status(answer: dict[str, Any]) -> Status:
        checks = run_doctor(repo.root, client=Verifier(answer))
        return next(c.status for c in checks if c.name == name)

    assert live_status({"valid": True, "expires_at": None}) is Status.PASS
    assert live_status({"valid": True, "expires_at": int(time.time()) + 3600}) is Status.WARN
    assert live_status({"valid": False, "code": "REVOKED"}) is Status.FAIL
    without_server = run_doctor(repo.root)
    assert next(c.status for c in without_server if c.name == name) is Status.SKIP


def test_env_file_names() -> None:
    assert is_env_file(".env")
    assert is_env_file("a/b/prod.env")
    assert is_env_file(".env.local")
    assert not is_env_file(".env.example")
    assert not is_env_file("environment.py")


def test_doctor_outside_git_does_not_fail(plain_dir: Path) -> None:
    (plain_dir / "app.py").write_text("print('hi')\n")
    assert doctor().exit_code == 0


def test_a_file_too_large_to_scan_turns_the_source_check_into_a_warning(repo: Repo) -> None:
    clean_project(repo)
    repo.write("dump.sql", "x" * 5000)
    project = ProjectDir(repo.root, repo.root, Detector(), max_size=1000)
    check = no_hardcoded_keys(project)
    assert check.status is Status.WARN
    assert "dump.sql" in check.advice

"""``--verify`` and ``--revoke`` against a fake keyplane server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from keyplane.cli import scan as scan_cli
from keyplane.keys.format import KeyKind, generate_key
from keyplane.scan.finding import Finding
from keyplane.scan.verify import live_first, revoke_live, verify_findings
from scan.scan_fakes import samples


class FakeServer:
    """Answers like the verify and revoke endpoints, and records every call."""

    def __init__(self, live: dict[str, tuple[str, str | None]]) -> None:
        self.live = live  # secret -> (key_id, project_id or None for admin keys)
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, path: str, *, json: Any = None) -> Any:
        self.calls.append((method, path, json))
        if method == "DELETE":
            return None
        if json["key"] not in self.live:
            return {"valid": False, "code": "NOT_FOUND"}
        key_id, project_id = self.live[json["key"]]
        return {"valid": True, "code": "VALID", "key_id": key_id, "project_id": project_id}

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _finding(secret: str, line: int) -> Finding:
    return Finding("keyplane-key", "app.py", line, secret)


def test_verify_marks_live_keys_and_sorts_them_first() -> None:
    dead, live = generate_key(KeyKind.PROJECT), generate_key(KeyKind.PROJECT)
    server = FakeServer({live: ("key_1", "proj_1")})
    findings = [_finding(dead, 1), _finding(live, 2), _finding(live, 3)]
    verify_findings(server, findings)
    assert [(f.line, f.live, f.status) for f in live_first(findings)] == [
        (2, True, "VALID"),
        (3, True, "VALID"),
        (1, False, "NOT_FOUND"),
    ]
    assert len(server.calls) == 2  # one request per distinct key


def test_revoke_uses_the_project_or_admin_endpoint() -> None:
    project_key, admin_key = generate_key(KeyKind.PROJECT), generate_key(KeyKind.ADMIN)
    server = FakeServer({project_key: ("key_p", "proj_9"), admin_key: ("key_a", None)})
    findings = [_finding(project_key, 1), _finding(admin_key, 2)]
    verify_findings(server, findings)
    assert revoke_live(server, findings, brand="kp") == 2
    deletes = [path for method, path, _ in server.calls if method == "DELETE"]
    assert deletes == [
        "/v1/organization/projects/proj_9/api_keys/key_p",
        "/v1/organization/admin_api_keys/key_a",
    ]
    assert all(f.revoked and not f.live for f in findings)


def test_ids_that_could_reshape_the_path_are_refused() -> None:
    key = generate_key(KeyKind.PROJECT)
    server = FakeServer({key: ("../../admin", "proj_1")})
    findings = [_finding(key, 1)]
    verify_findings(server, findings)
    assert revoke_live(server, findings, brand="kp") == 0


def test_cli_verify_reports_live_column_without_the_secret(
    plain_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key(KeyKind.PROJECT)
    _, other = samples()["github-pat"]
    (plain_dir / "app.py").write_text(f"GH = '{other}'\nKEY = '{key}'\n")
    server = FakeServer({key: ("key_1", "proj_1")})
    monkeypatch.setenv("KEYPLANE_ADMIN_KEY", generate_key(KeyKind.ADMIN))
    monkeypatch.setattr(scan_cli, "make_client", lambda settings: server)
    result = CliRunner().invoke(scan_cli.scan_command, ["--revoke", "--json", "."])
    assert result.exit_code == 1
    assert key not in result.output
    first, second = json.loads(result.stdout)["findings"]
    assert (first["rule"], first["revoked"], first["status"]) == ("keyplane-key", True, "REVOKED")
    assert second["rule"] == "github-token"
    assert ("DELETE", "/v1/organization/projects/proj_1/api_keys/key_1", None) in server.calls

"""Settings from the environment or ``.env``; the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyplane.sdk import Client
from keyplane.sdk.env import parse_env, setting


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("KEYPLANE_URL=http://a:1", {"KEYPLANE_URL": "http://a:1"}),
        ("export KEYPLANE_URL = http://a:1 ", {"KEYPLANE_URL": "http://a:1"}),
        ("KEYPLANE_URL='http://a:1 # kept'", {"KEYPLANE_URL": "http://a:1 # kept"}),
        ('KEYPLANE_URL="http://a:1"', {"KEYPLANE_URL": "http://a:1"}),
        ("KEYPLANE_URL=http://a:1 # comment", {"KEYPLANE_URL": "http://a:1"}),
        ("# KEYPLANE_URL=http://a:1", {}),
        ("not a pair", {}),
        ("", {}),
    ],
)
def test_parse_env_lines(line: str, expected: dict[str, str]) -> None:
    assert parse_env(line) == expected


def test_environment_wins_over_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KEYPLANE_URL=http://from-file:1\nKEYPLANE_ADMIN_KEY=kp_admin_file\n")
    monkeypatch.delenv("KEYPLANE_ADMIN_KEY", raising=False)
    monkeypatch.setenv("KEYPLANE_URL", "http://from-env:2")
    assert setting("KEYPLANE_URL", env_file=env_file) == "http://from-env:2"
    assert setting("KEYPLANE_ADMIN_KEY", env_file=env_file) == "kp_admin_file"
    assert setting("KEYPLANE_ADMIN_KEY", env_file=tmp_path / "missing") is None


def test_client_reads_env_file_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEYPLANE_URL", raising=False)
    monkeypatch.delenv("KEYPLANE_ADMIN_KEY", raising=False)
    (tmp_path / ".env").write_text("KEYPLANE_URL=http://from-file:9/\nKEYPLANE_ADMIN_KEY=kp_x\n")
    monkeypatch.chdir(tmp_path)
    with Client() as client:
        assert client.base_url == "http://from-file:9"
        assert "kp_x" not in repr(client)

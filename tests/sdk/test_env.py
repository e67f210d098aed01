"""Settings from the environment or ``.env``; the environment wins; the server reads the same."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from keyplane.config import ClientSettings
from keyplane.sdk import Client
from keyplane.sdk.env import parse_env, read_env_file, setting

# .env lines and the value python-dotenv, and so the server, reads from them. The SDK's old
# hand-written parser kept the quotes of the first two and the backslashes of the third.
LINES = [
    ("KEYPLANE_ADMIN_KEY='kp_admin_x' # prod key", "kp_admin_x"),
    ('KEYPLANE_ADMIN_KEY="kp_admin_x" # prod key', "kp_admin_x"),
    ('KEYPLANE_ADMIN_KEY="kp_\\"admin\\"\\nx"', 'kp_"admin"\nx'),
    ("KEYPLANE_ADMIN_KEY='kp_admin # not a comment'", "kp_admin # not a comment"),
    ("KEYPLANE_ADMIN_KEY=kp_admin_x # prod key", "kp_admin_x"),
    ("KEYPLANE_ADMIN_KEY=kp_admin#x", "kp_admin#x"),
    ("export KEYPLANE_ADMIN_KEY=kp_admin_x", "kp_admin_x"),
    ("export KEYPLANE_ADMIN_KEY = kp_admin_x ", "kp_admin_x"),
    ("KEYPLANE_ADMIN_KEY = kp_admin_x", "kp_admin_x"),
    ("KEYPLANE_ADMIN_KEY=", ""),
]


@pytest.mark.parametrize(("line", "value"), LINES)
def test_parse_env_reads_a_line_as_python_dotenv_does(line: str, value: str) -> None:
    assert parse_env(line) == {"KEYPLANE_ADMIN_KEY": value}


@pytest.mark.parametrize("line", ["# KEYPLANE_URL=http://a:1", "KEYPLANE_URL", "not a pair", ""])
def test_parse_env_gives_nothing_for_a_line_without_an_assignment(line: str) -> None:
    assert parse_env(line) == {}


@pytest.mark.parametrize(("line", "value"), LINES)
def test_sdk_and_server_settings_read_the_same_env_file_alike(
    line: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEYPLANE_ADMIN_KEY", raising=False)
    monkeypatch.delenv("KEYPLANE_URL", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(f"# keyplane\n{line}\nKEYPLANE_URL=http://a:1\n", encoding="utf-8")
    server = ClientSettings(_env_file=env_file)
    server_key = None if server.admin_key is None else server.admin_key.get_secret_value()
    assert setting("KEYPLANE_ADMIN_KEY", env_file=env_file) == server_key == (value or None)
    assert setting("KEYPLANE_URL", env_file=env_file) == server.url


def test_environment_wins_over_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KEYPLANE_URL=http://from-file:1\nKEYPLANE_ADMIN_KEY=kp_admin_file\n")
    monkeypatch.delenv("KEYPLANE_ADMIN_KEY", raising=False)
    monkeypatch.setenv("KEYPLANE_URL", "http://from-env:2")
    assert setting("KEYPLANE_URL", env_file=env_file) == "http://from-env:2"
    assert setting("KEYPLANE_ADMIN_KEY", env_file=env_file) == "kp_admin_file"


def test_empty_environment_variable_falls_back_to_env_file_as_on_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("KEYPLANE_URL=http://from-file:1\n")
    monkeypatch.setenv("KEYPLANE_URL", "")
    assert setting("KEYPLANE_URL", env_file=env_file) == "http://from-file:1"
    assert ClientSettings(_env_file=env_file).url == "http://from-file:1"


def test_missing_or_undecodable_env_file_gives_no_values(tmp_path: Path) -> None:
    not_utf8 = tmp_path / "latin1.env"
    not_utf8.write_bytes(b"KEYPLANE_URL=http://\xe9:1\n")
    for path in (None, tmp_path / "missing", tmp_path, not_utf8):
        assert read_env_file(path) == {}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_unreadable_env_file_gives_no_values(tmp_path: Path) -> None:
    unreadable = tmp_path / ".env"
    unreadable.write_text("KEYPLANE_URL=http://a:1\n")
    unreadable.chmod(0)
    assert read_env_file(unreadable) == {}


def test_client_sends_the_admin_key_of_a_quoted_line_without_its_quotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEYPLANE_URL", raising=False)
    monkeypatch.delenv("KEYPLANE_ADMIN_KEY", raising=False)
    (tmp_path / ".env").write_text(
        "KEYPLANE_URL=http://from-file:9/\nKEYPLANE_ADMIN_KEY='kp_x' # prod key\n"
    )
    monkeypatch.chdir(tmp_path)
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["Authorization"])
        return httpx.Response(200, json={"data": [], "has_more": False, "last_id": None})

    with Client(transport=httpx.MockTransport(answer)) as client:
        assert client.base_url == "http://from-file:9"
        assert "kp_x" not in repr(client)
        client.projects.list()
    assert sent == ["Bearer kp_x"]

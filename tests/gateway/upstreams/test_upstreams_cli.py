"""``keyplane upstreams check`` and ``serve``'s checks of the upstreams file."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.upstreams.conftest import PROVIDER_KEYS, Upstreams, multi_env
from support.server import ServerProcess, server_env


def test_check_says_which_upstreams_answer_and_accept_their_key(multi: ServerProcess) -> None:
    done = multi.keyplane("upstreams", "check", "--json")
    assert done.returncode == 1, done.stderr  # some of them fail, on purpose
    results = {item["name"]: item for item in json.loads(done.stdout)}
    assert {name for name, item in results.items() if item["ok"]} == {"claude", "azure", "openai"}
    assert results["down"]["message"] == "answers with HTTP 503"
    assert results["busy"]["status"] == 429
    assert results["picky"]["message"] == "answers but refuses its key (HTTP 401)"
    assert results["nowhere"]["message"].startswith("does not answer")
    table = multi.keyplane("upstreams", "check")
    assert "FAIL" in table.stdout and "answers and accepts its key" in table.stdout
    for secret in PROVIDER_KEYS:
        assert secret not in done.stdout + table.stdout + table.stderr


def test_check_names_an_unset_key_without_asking_the_upstream(
    tmp_path: Path, stand_ins: Upstreams
) -> None:
    env = multi_env(tmp_path, stand_ins)
    del env["TEST_AZURE_KEY"]
    done = ServerProcess(workdir=tmp_path, env=env).keyplane("upstreams", "check", "--json")
    azure = next(item for item in json.loads(done.stdout) if item["name"] == "azure")
    assert azure == {
        "name": "azure",
        "ok": False,
        "status": None,
        "message": "no key: ${TEST_AZURE_KEY} (not set)",
    }


def test_serve_refuses_a_bad_upstreams_file_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "upstreams.toml"
    path.write_text('[[upstream]]\nname = "claude"\nprovider = "antropic"\napi_key = "x"\n')
    env = server_env(tmp_path, KEYPLANE_UPSTREAMS_FILE=str(path))
    done = ServerProcess(workdir=tmp_path, env=env).keyplane("serve", "--port", "0")
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"Error: {path}: upstream 'claude': field 'provider':")
    assert "Traceback" not in done.stderr


def test_serve_warns_about_a_key_written_into_the_file_or_not_set(tmp_path: Path) -> None:
    path = tmp_path / "upstreams.toml"
    path.write_text(
        '[[upstream]]\nname = "mine"\nprovider = "openai_compatible"\n'
        'base_url = "http://127.0.0.1:9/v1"\napi_key = "sk-literal-in-file-Qa7"\nmodels = ["*"]\n'
        '[[upstream]]\nname = "x"\nprovider = "openai"\napi_key = "${NOT_SET_ANYWHERE}"\n'
        'models = ["a"]\nbase_url = "bad url"\n'
    )
    env = server_env(tmp_path, KEYPLANE_UPSTREAMS_FILE=str(path))
    done = ServerProcess(workdir=tmp_path, env=env).keyplane("serve", "--port", "0")
    assert done.returncode == 1 and "upstream 'x': field 'base_url'" in done.stderr
    path.write_text(path.read_text().replace('"bad url"', '"http://127.0.0.1:9/v1"'))
    listed = ServerProcess(workdir=tmp_path, env=env).keyplane("upstreams", "list")
    assert "literal (set)" in listed.stdout and "${NOT_SET_ANYWHERE} (not set)" in listed.stdout
    server = ServerProcess(workdir=tmp_path, env=env)
    server.start()
    server.stop()
    log = server.log_path.read_text()
    assert "warning: upstream 'mine' has its api_key written in the upstreams file" in log
    assert "warning: upstream 'x': NOT_SET_ANYWHERE is not set" in log
    assert "sk-literal-in-file-Qa7" not in listed.stdout + log

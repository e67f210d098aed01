"""The plaintext of a key never reaches the database file or the server's log."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from support.server import ServerProcess


def _store_bytes(server: ServerProcess) -> bytes:
    data_dir = server.workdir / ".keyplane"
    # The WAL and shared-memory files hold recent writes before a checkpoint: search them too.
    return b"".join(path.read_bytes() for path in sorted(data_dir.glob("keyplane.db*")))


def test_after_create_rotate_revoke_no_plaintext_in_store_or_log(server: ServerProcess) -> None:
    headers = {"Authorization": f"Bearer {server.admin_key}"}
    issued = [server.admin_key]
    with httpx.Client(base_url=server.url, headers=headers) as http:
        project = http.post("/v1/organization/projects", json={"name": "secure"}).json()
        keys_url = f"/v1/organization/projects/{project['id']}/api_keys"
        key = http.post(keys_url, json={"name": "app"}).json()
        issued.append(key["value"])
        for grace in (60, 0):
            rotated = http.post(
                f"{keys_url}/{key['id']}/rotate", json={"grace_period_seconds": grace}
            ).json()
            issued.append(rotated["value"])
        idempotent = http.post(
            f"{keys_url}/{key['id']}/rotate", headers={"Idempotency-Key": "once"}
        ).json()
        issued.append(idempotent["value"])
        for value in issued:
            http.post("/v1/keys/verify", json={"key": value})
        # Bad input that echoes a key back must not echo the plaintext either.
        http.post(keys_url, json={"name": issued[1], "metadata": {"k": 5}})
        http.get("/v1/organization/projects", headers={"Authorization": f"Bearer {issued[1]}x"})
        admin = http.post("/v1/organization/admin_api_keys", json={"name": "second"}).json()
        issued.append(admin["value"])
        http.delete(f"/v1/organization/admin_api_keys/{admin['id']}")
        http.delete(f"{keys_url}/{key['id']}")
    server.stop()  # flush everything to disk and close the log

    store = _store_bytes(server)
    log = server.log_path.read_bytes()
    assert len(set(issued)) == len(issued) == 6
    for value in issued:
        assert value.encode() not in store, "a plaintext key reached the database"
        assert value.encode() not in log, "a plaintext key reached the server log"
        random_part = value.split("_")[2][:32].encode()
        assert random_part not in store


def test_init_json_prints_the_admin_key_once(tmp_path: Path) -> None:
    from support.server import server_env

    process = ServerProcess(workdir=tmp_path, env=server_env(tmp_path))
    first = process.keyplane("init", "--json")
    second = process.keyplane("init", "--json")
    assert first.returncode == second.returncode == 0
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["admin_key"].startswith("kp_admin_")
    assert two["admin_key"] is None
    assert (one["organization_id"], one["project_id"]) == (
        two["organization_id"],
        two["project_id"],
    )
    plain = process.keyplane("init")
    assert "kp_admin_" not in plain.stdout


def test_new_admin_key_is_the_audited_way_back_in(tmp_path: Path) -> None:
    from support.server import server_env

    process = ServerProcess(workdir=tmp_path, env=server_env(tmp_path))
    first = json.loads(process.keyplane("init", "--json").stdout)["admin_key"]
    again = process.keyplane("init", "--new-admin-key", "--json")
    assert again.returncode == 0, again.stderr
    recovered = json.loads(again.stdout)["admin_key"]
    assert recovered.startswith("kp_admin_") and recovered != first
    process.env["KEYPLANE_ADMIN_KEY"] = recovered
    process.env["KEYPLANE_URL"] = process.url
    process.start()
    try:
        events = process.keyplane("audit", "--type", "admin_api_key.created", "--json")
        labels = [e["actor"]["label"] for e in json.loads(events.stdout)["data"]]
        assert "keyplane init --new-admin-key (store access)" in labels
    finally:
        process.stop()

"""``keyplane webhook ...`` against a real server process."""

from __future__ import annotations

import json

from support.server import ServerProcess


def test_set_show_rotate_clear(server: ServerProcess) -> None:
    bad = server.keyplane("webhook", "set", "not-a-url")
    assert bad.returncode == 1
    assert "http://" in bad.stderr and "Traceback" not in bad.stderr

    created = server.keyplane("webhook", "set", "http://127.0.0.1:9/kp", "--json")
    assert created.returncode == 0, created.stderr
    secret = json.loads(created.stdout)["secret"]
    assert secret.startswith("whsec_")

    shown = server.keyplane("webhook", "show")
    assert "http://127.0.0.1:9/kp" in shown.stdout, shown.stderr
    assert secret[-4:] in shown.stdout and secret not in shown.stdout

    rotated = server.keyplane("webhook", "rotate-secret")
    assert rotated.returncode == 0, rotated.stderr
    assert "shown once" in rotated.stdout and secret not in rotated.stdout

    cleared = server.keyplane("webhook", "clear")
    assert cleared.returncode == 0, cleared.stderr
    after = server.keyplane("webhook", "show")
    assert "no webhook" in after.stdout, after.stdout + after.stderr
    assert secret not in server.log_path.read_text()

"""``keyplane serve`` takes its port before it says or changes anything."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from support.server import ServerProcess, server_env


def setup_link(log: str) -> str:
    found = re.search(r"http://\S+/setup\?token=\S+", log)
    assert found, log
    return found.group(0)


def test_a_second_serve_on_a_busy_port_fails_in_one_line_and_the_first_link_stays_valid(
    server: ServerProcess,
) -> None:
    link = setup_link(server.log_path.read_text())
    second = server.keyplane("serve", "--port", str(server.port))
    assert second.returncode == 1
    assert second.stdout == ""  # no "listening on", no admin key, no new setup link
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert f"cannot listen on 127.0.0.1:{server.port}: the port is in use" in lines[0]
    assert "--port" in lines[0]
    assert httpx.get(link).status_code == 200  # the second start did not replace its token
    assert server.process is not None and server.process.poll() is None


def test_serve_on_port_zero_prints_the_port_it_got(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "keyplane", "serve", "--port", "0"],
        cwd=tmp_path,
        env=server_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        # First run: the listening line, four lines of bootstrap, then the setup link's two.
        printed = "".join(process.stdout.readline() for _ in range(7))
        url = re.match(r"keyplane listening on (http://127\.0\.0\.1:(\d+))\s", printed)
        assert url and url.group(2) != "0", printed
        assert setup_link(printed).startswith(url.group(1) + "/setup")
        assert httpx.get(f"{url.group(1)}/healthz", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)

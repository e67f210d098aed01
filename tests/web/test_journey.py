"""One person's journey through the dashboard in a real browser, against a real server.

Debian's chromium, driven by Playwright; the gateway forwards to the local test upstream.
Screenshots of the key dialog and the usage page land in ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import openai
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from keyplane.testing import UpstreamProcess, start_upstream_process
from support.server import ServerProcess, server_env

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
UPSTREAM_KEY = "sk-test-upstream-journey"
EMAIL, PASSWORD = "ada@example.com", "a long enough password"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamProcess]:
    with start_upstream_process(api_key=UPSTREAM_KEY) as process:
        yield process


@pytest.fixture
def gateway_server(tmp_path: Path, upstream: UpstreamProcess) -> Iterator[ServerProcess]:
    env = server_env(
        tmp_path,
        KEYPLANE_UPSTREAM_BASE_URL=upstream.base_url,
        KEYPLANE_UPSTREAM_API_KEY=UPSTREAM_KEY,
        KEYPLANE_USAGE_FLUSH_SECONDS="0.5",
    )
    process = ServerProcess(workdir=tmp_path, env=env)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def setup_link(server: ServerProcess) -> str:
    found = re.search(r"(http://\S+/setup\?token=\S+)", server.log_path.read_text())
    assert found, server.log_path.read_text()
    return found.group(1)


def test_setup_key_call_usage_rotate_revoke(
    gateway_server: ServerProcess, browser: Browser
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(10_000)

    # The setup link from the server's output creates the owner; then sign out and in.
    page.goto(setup_link(gateway_server))
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create owner account").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # A project, and a key in it, shown once.
    page.get_by_label("New project name").fill("Journey")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_text("No keys yet")).to_be_visible()
    page.get_by_role("link", name="+ Create new secret key").first.click()
    page.get_by_label("Name").fill("journey key")
    page.get_by_role("button", name="Create secret key").click()
    secret = read_secret(page)
    keys_url = page.url.split("/keys/", 1)[0]
    page.screenshot(path=ARTIFACTS / "key-dialog.png")
    page.reload()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert secret not in page.content()
    page.go_back()
    assert secret not in page.content()

    # The key works through the gateway with the official SDK, and the call shows as usage.
    client = openai.OpenAI(base_url=f"{gateway_server.url}/v1", api_key=secret, max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
    )
    assert reply.usage is not None and reply.usage.total_tokens > 0
    see_usage(page, gateway_server.url, requests=1)
    page.screenshot(path=ARTIFACTS / "usage.png", full_page=True)

    # Rotate with no grace period: the old secret stops, the new one works.
    page.goto(keys_url)
    page.get_by_role("link", name="Rotate").click()
    page.get_by_label("Keep the old secret working for").select_option("0")
    page.get_by_role("button", name="Rotate key").click()
    rotated = read_secret(page)
    assert rotated != secret
    refused(lambda: openai_call(gateway_server.url, secret))
    openai_call(gateway_server.url, rotated)

    # Revoke: the gateway refuses the key.
    page.goto(keys_url)
    page.get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.locator("tr", has_text="journey key").get_by_text("Revoked")).to_be_visible()
    refused(lambda: openai_call(gateway_server.url, rotated))

    # The same page on a phone: the table scrolls sideways, the navigation stays on top.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(cast("list[SetCookieParam]", page.context.cookies()))
    phone.goto(keys_url)
    phone.screenshot(path=ARTIFACTS / "keys-phone.png")


def read_secret(page: Page) -> str:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    value = dialog.locator("input.secret").input_value()
    assert value.startswith("kp_proj_")
    return value


def openai_call(base_url: str, key: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "again"}]
    )


def refused(call: object) -> None:
    """The call fails with a 401 within a few seconds (key caches live at most one)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            call()  # type: ignore[operator]
        except openai.AuthenticationError:
            return
        assert time.monotonic() < deadline, "the gateway still accepts the key"
        time.sleep(0.2)


def see_usage(page: Page, base_url: str, *, requests: int) -> None:
    """The usage page shows the calls once the meter has flushed them."""
    deadline = time.monotonic() + 20
    while True:
        page.goto(f"{base_url}/usage")
        shown = page.locator(".stat", has_text="Requests").locator(".stat-value").inner_text()
        if shown == str(requests):
            return
        assert time.monotonic() < deadline, f"usage shows {shown} requests"
        time.sleep(0.5)

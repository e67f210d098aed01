"""One person's journey through the dashboard in a real browser, against a real server.

Debian's chromium, driven by Playwright; the gateway forwards to the local test upstream.
Every page the journey shows is checked with axe-core at 1366 by 900 and 390 by 844 (no serious
or critical finding, nothing wider than the phone). One server and one browser for the whole
journey keep it cheap. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import openai
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from keyplane.testing import UpstreamProcess, start_upstream_process
from support.server import ServerProcess, server_env
from web.browser import DESKTOP, PHONE, Audit, axe_source

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


def new_context(browser: Browser, server: ServerProcess) -> BrowserContext:
    context = browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
    context.add_init_script(path=axe_source())
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    context.set_default_timeout(10_000)
    return context


def setup_link(server: ServerProcess) -> str:
    found = re.search(r"(http://\S+/setup\?token=\S+)", server.log_path.read_text())
    assert found, server.log_path.read_text()
    return found.group(1)


def test_setup_key_call_usage_rotate_revoke(
    gateway_server: ServerProcess, browser: Browser
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    audit = Audit()
    context = new_context(browser, gateway_server)
    page = context.new_page()
    base = gateway_server.url

    # The setup link from the server's output creates the owner; then sign out and in.
    page.goto(setup_link(gateway_server))
    audit.page(page, "setup")
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create owner account").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")  # the sign-in page, not the one being left
    audit.page(page, "sign in")
    sign_in(page)
    audit.page(page, "projects")
    skip_link_and_focus_ring_show(page)

    # A project, and a key form sent with three mistakes: all three show, each by its field.
    page.get_by_label("New project name").fill("Journey")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_text("No keys yet")).to_be_visible()
    keys_url = page.url
    page.get_by_role("link", name="+ Create new secret key").first.click()
    audit.page(page, "new key")
    every_error_shows_beside_its_field(page)
    audit.page(page, "key form with errors")
    page.screenshot(path=ARTIFACTS / "key-form-errors.png", full_page=True)

    # A key with a $5 monthly budget, shown once in a dialog made for the keyboard.
    page.get_by_label("Name").fill("journey key")
    page.get_by_label("Requests per minute").fill("")
    page.get_by_label("Spend at most").fill("5")
    page.get_by_role("button", name="Create secret key").click()
    secret = read_secret(page)
    the_dialog_is_keyboard_first(page, secret)
    audit.page(page, "key dialog")
    page.screenshot(path=ARTIFACTS / "key-dialog.png")
    page.keyboard.press("Escape")  # Escape is Done
    page.wait_for_url(keys_url)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert secret not in page.content()
    page.go_back()
    assert secret not in page.content()

    # The key works through the gateway; its spend, week and usage show where it is listed.
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=secret, max_retries=0)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
    )
    assert reply.usage is not None and reply.usage.total_tokens > 0
    see_usage(page, f"{base}/usage", requests=1)
    audit.page(page, "usage")
    charts_can_be_read(page)
    page.screenshot(path=ARTIFACTS / "usage.png", full_page=True)
    spend_shows_against_the_budget(page, keys_url)
    audit.page(page, "keys")
    page.screenshot(path=ARTIFACTS / "keys.png", full_page=True)
    page.get_by_role("link", name=re.compile("usage of journey key")).click()
    expect(page.get_by_text("with the key journey key")).to_be_visible()
    expect(page.locator(".stat", has_text="Requests").locator(".stat-value")).to_have_text("1")
    audit.page(page, "usage of one key")
    empty_and_wrong_ranges_read_right(page, base)
    audit.page(page, "usage with a wrong range")
    page.goto(keys_url)
    page.get_by_role("link", name="Edit journey key").click()
    expect(page.locator(".facts")).to_contain_text("of $5.00 this month")
    audit.page(page, "edit key")

    # Rotate with no grace period: the old secret stops, the new one works.
    page.goto(keys_url)
    page.get_by_role("link", name="Rotate").click()
    audit.page(page, "rotate")
    page.get_by_label("Keep the old secret working for").select_option("0")
    page.get_by_role("button", name="Rotate key").click()
    rotated = read_secret(page)
    assert rotated != secret
    refused(lambda: openai_call(base, secret))
    openai_call(base, rotated)

    # Rotate with an hour's grace: the row says until when the old secret still works.
    page.goto(keys_url)
    page.get_by_role("link", name="Rotate").click()
    page.get_by_label("Keep the old secret working for").select_option("3600")
    page.get_by_role("button", name="Rotate key").click()
    read_secret(page)
    page.get_by_role("link", name="Done").click()
    note = page.locator("tr", has_text="journey key").locator(".rotation-note")
    expect(note).to_contain_text("Old secret works until")
    openai_call(base, rotated)  # within its hour

    # The session ends while a form is open: sign in again, and what was typed is kept.
    page.goto(f"{base}/projects")
    page.get_by_label("New project name").fill("Typed before the session ended")
    context.clear_cookies(name="kp_session")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_text("Nothing has changed yet")).to_be_visible()
    audit.page(page, "sign in to resume")
    sign_in(page)
    expect(page.get_by_text("has not been saved yet")).to_be_visible()
    audit.page(page, "resume")
    page.get_by_role("button", name="Save what I typed").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.locator(".crumbs")).to_contain_text("Typed before the session ended")

    # Revoke: the gateway refuses the key, and no page offers to edit or rotate it.
    page.goto(keys_url)
    page.get_by_role("link", name="Revoke").click()
    audit.page(page, "revoke")
    page.get_by_role("button", name="Revoke key").click()
    row = page.locator("tr", has_text="journey key")
    expect(row.get_by_text("Revoked")).to_be_visible()
    expect(row.get_by_role("link", name=re.compile("Edit|Rotate"))).to_have_count(0)
    refused(lambda: openai_call(base, rotated))
    key_id = row.get_attribute("data-key-id")
    page.goto(f"{keys_url}/keys/{key_id}")
    expect(page.get_by_text("can no longer be edited or rotated")).to_be_visible()
    expect(
        page.locator("form[method=post]", has=page.get_by_role("button", name="Save"))
    ).to_have_count(0)
    audit.page(page, "revoked key")
    assert page.goto(f"{keys_url}/keys/{key_id}/rotate").status == 409  # type: ignore[union-attr]
    audit.page(page, "refusal")

    # The audit log reads as sentences: names, dates, a raw view, every type in the filter.
    the_audit_log_is_readable(page, base, audit)
    audit.page(page, "audit event")

    # A reader sees the keys but no form or button to change them.
    reader = invite_reader(page, browser, gateway_server)
    audit.page(page, "members")
    reader.goto(keys_url)
    expect(reader.get_by_role("link", name="+ Create new secret key")).to_have_count(0)
    expect(reader.get_by_role("link", name=re.compile("^(Edit|Rotate|Revoke)"))).to_have_count(0)
    audit.page(reader, "keys as a reader")
    reader.goto(f"{keys_url}/keys/{key_id}")
    expect(reader.get_by_role("button", name="Save")).to_have_count(0)
    assert reader.goto(f"{keys_url}/keys/new").status == 403  # type: ignore[union-attr]
    reader.context.close()

    for path in ("/admin-keys", f"{keys_url.removeprefix(base)}/settings", "/nowhere"):
        page.goto(base + path)
        audit.page(page, path)

    # On a phone the keys table is cards, everything in the box, and the menu shows it scrolls.
    phone = browser.new_page(viewport=PHONE)  # type: ignore[arg-type]
    phone.context.add_cookies(cast("list[SetCookieParam]", context.cookies()))
    phone.goto(keys_url)
    card = phone.locator("tr", has_text="Revoked")
    assert card.bounding_box()["width"] <= PHONE["width"]  # type: ignore[index]
    expect(card.get_by_text("Revoked")).to_be_in_viewport()
    nav = phone.locator("[data-nav]")
    if nav.evaluate("n => n.scrollWidth > n.clientWidth"):
        expect(nav).to_have_class(re.compile("more-right"))
    phone.screenshot(path=ARTIFACTS / "keys-phone.png", full_page=True)
    phone.close()

    docs_work_offline(context, base)
    assert len(audit.checked) >= 20, audit.checked


def sign_in(page: Page) -> None:
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def skip_link_and_focus_ring_show(page: Page) -> None:
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Tab")
    ring = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert ring[0] != "none" and ring[1] >= 2, ring


def every_error_shows_beside_its_field(page: Page) -> None:
    page.get_by_label("Name").fill("")
    page.get_by_label("Requests per minute").fill("lots")
    page.get_by_label("Spend at most").fill("-5")
    page.get_by_label("Restricted", exact=True).check()
    page.get_by_role("button", name="Create secret key").click()
    fields = {
        "name": page.get_by_label("Name"),
        "rpm": page.get_by_label("Requests per minute"),
        "budget_usd": page.get_by_label("Spend at most"),
        "scopes": page.locator("#field-scopes"),
    }
    summary = page.locator(".errors-summary")
    expect(summary).to_contain_text("4 fields need a change")
    for name, field in fields.items():
        error = page.locator(f"#{name}-error")
        expect(error).to_be_visible()
        text = error.inner_text()
        # Plain words: no API field names, no powers of ten.
        assert not re.search(r"limit_usd|rate_limits|permissions\.|10\^|_", text), text
        near = field.bounding_box()
        box = error.bounding_box()
        # Beside the field: inside its box (a group's) or right under it.
        assert near and box, name
        assert near["y"] <= box["y"] <= near["y"] + near["height"] + 40, (name, near, box)
    page.get_by_label("All", exact=True).check()


def read_secret(page: Page) -> str:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    value = dialog.locator("input.secret").input_value()
    assert value.startswith("kp_proj_")
    return value


def the_dialog_is_keyboard_first(page: Page, secret: str) -> None:
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("#secret-value")).to_be_focused()
    assert page.locator(".shell").get_attribute("inert") is not None
    for _ in range(12):  # Tab goes round the dialog, never behind it
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('[data-dialog]')")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => !!document.activeElement.closest('[data-dialog]')")
    copies = dialog.get_by_role("button", name=re.compile("^Copy"))
    expect(copies).to_have_count(3)
    dialog.get_by_role("button", name="Copy the .env lines").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert f"OPENAI_API_KEY={secret}" in copied


def spend_shows_against_the_budget(page: Page, keys_url: str) -> None:
    page.goto(keys_url)
    row = page.locator("tr", has_text="journey key")
    expect(row.locator(".spend-text")).to_contain_text(re.compile(r"of \$5\.00 this month"))
    expect(row.locator(".spend")).to_contain_text("% used")
    week = row.get_by_role("link", name=re.compile("usage of journey key in the last 7 days"))
    expect(week).to_have_attribute("aria-label", re.compile(r"^1 req:"))


def charts_can_be_read(page: Page) -> None:
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(4)  # requests, input tokens, output tokens, cost
    content = page.locator("main").bounding_box()
    first = charts.first
    box = first.bounding_box()
    assert content and box and box["width"] > 0.8 * content["width"], (box, content)
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('.chart .x-tick, .chart .y-tick, .chart .legend li')]"
        ".map((e) => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert sizes and min(sizes) >= 12, sizes
    expect(first.locator(".legend")).to_contain_text("gpt-4o-mini")  # inside the chart
    bar = first.locator(".column[aria-label*='gpt-4o-mini']")
    bar.hover()
    expect(bar.locator(".tip")).to_be_visible()
    expect(bar.locator(".tip")).to_contain_text("gpt-4o-mini: 1")
    # Keyboard: the first bar is the chart's one Tab stop; the arrows walk the bars.
    first.locator(".column[tabindex='0']").focus()
    page.keyboard.press("End")
    expect(bar).to_be_focused()
    expect(bar.locator(".tip")).to_be_visible()


def empty_and_wrong_ranges_read_right(page: Page, base: str) -> None:
    page.goto(f"{base}/usage?range=custom&start=2020-01-01&end=2020-01-01")
    expect(page.get_by_text("No usage in this range")).to_be_visible()
    audit_page = f"{base}/usage?range=custom&start=2026-05-09&end=2026-05-01"
    response = page.goto(audit_page)
    assert response is not None and response.status == 422
    expect(page.locator("#end-error")).to_have_text(re.compile("end date must be on or after"))
    expect(page.get_by_role("button", name="Apply")).to_be_visible()  # the filters stay


def the_audit_log_is_readable(page: Page, base: str, audit: Audit) -> None:
    page.goto(f"{base}/audit")
    audit.page(page, "audit log")
    page.screenshot(path=ARTIFACTS / "audit.png", full_page=True)
    table = page.locator("table.audit")
    expect(table).to_contain_text("Ada Lovelace")
    text = table.inner_text()
    assert not re.search(r"\{'|\bNone\b|\b1[6-9]\d{8}\b", text), text
    wrap = page.locator(".table-wrap").first
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth + 1")
    shown = {c.inner_text() for c in table.locator("tbody code").all()}
    offered = set(
        page.locator("select[name=type] option").evaluate_all("os => os.map(o => o.value)")
    )
    assert shown <= offered, shown - offered
    rotated = page.locator("tr", has_text="Key rotated").first
    expect(rotated).to_contain_text("journey key")
    expect(rotated).to_contain_text(re.compile(r"Old secret expires at: \d{4}-\d\d-\d\d"))
    rotated.get_by_role("link", name=re.compile("^Details")).click()
    raw = json.loads(page.locator("#raw-event").inner_text())
    assert raw["type"] == "api_key.rotated" and "data" in raw


def invite_reader(page: Page, browser: Browser, server: ServerProcess) -> Page:
    page.goto(f"{server.url}/members")
    invite = page.locator("form[action='/members/invite']")
    invite.locator("input[name=email]").fill("rita@example.com")
    invite.locator("select[name=role]").select_option("reader")
    page.get_by_role("button", name="Create invitation").click()
    link = page.locator("#invite-link").input_value()
    reader = new_context(browser, server).new_page()
    reader.goto(link)
    reader.get_by_label("Name").fill("Rita Reader")
    reader.get_by_label("Password").fill(PASSWORD)
    reader.get_by_role("button", name="Create account").click()
    expect(reader.get_by_role("heading", name="Projects")).to_be_visible()
    return reader


def docs_work_offline(context: BrowserContext, base: str) -> None:
    """Swagger UI with every request outside keyplane refused, as on a machine offline."""
    outside: list[str] = []

    def only_keyplane(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page = context.new_page()
    page.route("**/*", only_keyplane)
    page.goto(f"{base}/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert not outside, outside
    page.close()


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


def see_usage(page: Page, url: str, *, requests: int) -> None:
    """The usage page shows the calls once the meter has flushed them."""
    deadline = time.monotonic() + 20
    while True:
        page.goto(url)
        shown = page.locator(".stat", has_text="Requests").locator(".stat-value").inner_text()
        if shown == str(requests):
            return
        assert time.monotonic() < deadline, f"usage shows {shown} requests"
        time.sleep(0.5)

"""What the browser journey checks on every page: axe-core at two sizes, and the phone layout.

axe-core comes from npm (``scripts/test-deps.sh`` installs it into the cache named here) and
is injected as an init script, which the dashboard's Content-Security-Policy does not see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_VERSION = "4.14.1"
AXE_JS = (
    Path(os.environ.get("KEYPLANE_TEST_CACHE", Path.home() / ".cache" / "keyplane"))
    / f"axe-core-{AXE_VERSION}"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
FAILING = ("serious", "critical")

_LAYOUT = """() => {
  const width = document.documentElement.clientWidth;
  const past = [...document.querySelectorAll("body *")].filter((el) => {
    const box = el.getBoundingClientRect();
    // Only what scrolls on purpose may be wider: code, the menu, decoration.
    const scrolls = "pre, .nav, [aria-hidden=true], .sr-only, .skip-link, .cards thead";
    if (!box.width || el.closest(scrolls)) return false;
    return box.right > width + 1;
  });
  return {
    overflow: document.documentElement.scrollWidth - width,
    past: past.slice(0, 5).map((el) => el.outerHTML.slice(0, 120)),
  };
}"""


_SCROLLING_TABLES = """() => [...document.querySelectorAll(".table-wrap")]
  .filter((w) => w.scrollWidth > w.clientWidth + 1)
  .map((w) => w.querySelector("thead")?.innerText.slice(0, 80))"""


def axe_source() -> Path:
    assert AXE_JS.is_file(), f"axe-core {AXE_VERSION} is missing: run scripts/test-deps.sh"
    return AXE_JS


def violations(page: Page) -> list[str]:
    """Serious and critical axe-core findings on the page as it is now."""
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
        if v["impact"] in FAILING
    ]


@dataclass
class Audit:
    """Every page the journey shows, checked at desktop and phone size as it is shown."""

    checked: list[str] = field(default_factory=list)

    def page(self, page: Page, name: str) -> None:
        # A click that navigates (sign out, a form) returns before the next document is
        # there: checking then reads a page half swapped out.
        page.wait_for_load_state("load")
        problems = []
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)  # type: ignore[arg-type]
            problems += [f"{size['width']}px: {v}" for v in violations(page)]
            if size is PHONE:
                layout = page.evaluate(_LAYOUT)
                if layout["overflow"] > 0 or layout["past"]:
                    problems.append(f"390px: wider than the phone: {layout}")
            else:  # a table that scrolls sideways hides its last columns, the actions
                hidden = page.evaluate(_SCROLLING_TABLES)
                if hidden:
                    problems.append(f"1366px: tables wider than the page: {hidden}")
        page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
        assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)
        self.checked.append(name)

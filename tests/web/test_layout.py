"""Nothing clipped at 820, 1280 and 1920 px, in Debian's headless chromium.

Once, ``.card.flush{overflow:hidden}`` cut the feedback buttons off at every width. Each
page is loaded at each width, screenshotted, and every button and link of the main content
must lie inside the card that holds it and inside the page's width.
"""

from __future__ import annotations

import pytest

from tests.web.conftest import Seeded
from tests.web.test_browser import CHROMIUM_ARGS, SHOTS, base_url, chromium_path

__all__ = ["base_url"]  # the uvicorn fixture, shared with test_browser

pytestmark = pytest.mark.browser

CLIPPED = """
() => {
  const out = [];
  const pageWidth = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('main button, main .btn, main a')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;  // hidden (a closed <details>)
    const card = el.closest('.card');
    const name = (el.textContent || '').trim().slice(0, 40);
    if (r.right > pageWidth + 0.5) out.push(`${name}: past the page's right edge`);
    if (!card) continue;
    const c = card.getBoundingClientRect();
    const style = getComputedStyle(card);
    const scrolls = style.overflowX === 'auto' || style.overflowX === 'scroll';
    // a card that scrolls shows its overflow; one that hides it cuts the button off
    const right = scrolls ? c.left + card.scrollWidth : c.right;
    if (r.left < c.left - 0.5 || r.right > right + 0.5 || r.top < c.top - 0.5
        || r.bottom > c.bottom + 0.5) {
      out.push(`${name}: outside its card`);
    }
  }
  return out;
}
"""


@pytest.mark.parametrize("width", [820, 1280, 1920])
def test_nothing_is_clipped(base_url: str, seeded: Seeded, width: int) -> None:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "overview": "/",
        "alerts": "/alerts",
        "incident": f"/incidents/{seeded.incident}",
        "table": f"/tables/{seeded.orders}",
        "lineage": "/lineage",
    }
    problems: dict[str, list[str]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            for name, path in pages.items():
                page.goto(base_url + path)
                page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
                found = page.evaluate(CLIPPED)
                if found:
                    problems[name] = found
                buttons = page.locator("main .feedback button")
                for i in range(buttons.count()):
                    box = buttons.nth(i).bounding_box()
                    assert box is not None and box["width"] > 20, (name, i)
        finally:
            browser.close()
    assert problems == {}

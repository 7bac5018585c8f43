"""The undelivered banner in Debian's headless chromium at 820 and 1920 px: shown, nothing of
it cut off or covered, and its links lead where they say.

``test_undelivered_banner`` checks the HTML; this checks what a person sees: the banner sits
between the header and the page, wraps instead of overflowing, and each link opens its page.
"""

from __future__ import annotations

import pytest

from tests.web.conftest import NOW, Seeded
from tests.web.test_browser import CHROMIUM_ARGS, SHOTS, base_url, chromium_path
from tests.web.test_undelivered_banner import give_up
from tidegauge.core.model import AlertKind, Incident, TableRef

__all__ = ["base_url"]  # the uvicorn fixture, shared with test_browser

pytestmark = pytest.mark.browser

#: what of the banner is cut off, overflows or lies under something else, as text
PROBLEMS = """
(banner) => {
  const out = [];
  const width = document.documentElement.clientWidth;
  const b = banner.getBoundingClientRect();
  if (b.left < -0.5 || b.right > width + 0.5) out.push(`banner ${b.left}..${b.right} of ${width}`);
  if (banner.scrollWidth > banner.clientWidth + 0.5) out.push('banner text overflows');
  for (const el of banner.querySelectorAll('a, code, strong')) {
    for (const r of el.getClientRects()) {  // a wrapped link has one box per line
      if (r.left < b.left - 0.5 || r.right > b.right + 0.5 || r.top < b.top - 0.5
          || r.bottom > b.bottom + 0.5) {
        out.push(`${el.textContent.trim()}: outside the banner`);
      }
    }
    const r = el.getClientRects()[0];
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !el.contains(hit)) out.push(`${el.textContent.trim()}: covered`);
  }
  return out;
}
"""


@pytest.mark.parametrize("width", [820, 1920])
def test_the_banner_is_shown_whole_and_its_links_work(
    base_url: str, seeded: Seeded, width: int
) -> None:
    executable = chromium_path()
    from playwright.sync_api import expect, sync_playwright

    ids = [seeded.incident]
    for n in range(6):  # seven incidents: five linked by number, "2 more" to the list
        inc = Incident(AlertKind.VOLUME, TableRef("main", "raw", "orders"), f"drop {n}", NOW, NOW)
        ids.append(seeded.store.incidents.create(inc, seeded.orders, seeded.volume_alert))
    for n, iid in enumerate(ids):
        give_up(seeded, iid, "slack-data-platform-alerts" if n % 2 else "pager", f"k{n}")
    linked = sorted(ids)[:5]

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            for path in ("/", f"/tables/{seeded.orders}", "/lineage"):
                response = page.goto(base_url + path)
                assert response is not None and response.ok, path
                banner = page.locator(".banner-undelivered")
                expect(banner).to_be_visible()
                expect(banner).to_contain_text("7 notifications could not be delivered")
                expect(banner).to_contain_text("tidegauge outbox --failed")
                page.screenshot(
                    path=str(SHOTS / f"undelivered{path.replace('/', '-')}-{width}.png")
                )
                assert banner.evaluate(PROBLEMS) == [], path
            for iid in linked:
                page.goto(base_url + "/")
                link = page.locator(".banner-undelivered a", has_text=f"#{iid}")
                with page.expect_navigation() as opened:
                    link.click()
                assert opened.value is not None and opened.value.ok
                assert page.url == f"{base_url}/incidents/{iid}"
                expect(page.locator("main h1")).to_be_visible()
            page.goto(base_url + "/")
            with page.expect_navigation() as opened:
                page.locator(".banner-undelivered a", has_text="2 more").click()
            assert opened.value is not None and opened.value.ok
            assert page.url == f"{base_url}/incidents"
            expect(page.locator("main")).to_contain_text("drop 5")
        finally:
            browser.close()

"""The UI end to end in Debian's headless chromium, driven by Playwright, against uvicorn.

Skips when chromium is not installed, except under ``CI=true`` where that fails the run.
Screenshots go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn

from tests.web.conftest import NOW, Seeded
from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.web.server import create_app

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "chromium not found on PATH (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: a missing browser fails the run)")
        pytest.skip(reason)
    return path


@pytest.fixture
def base_url(seeded: Seeded) -> Iterator[str]:
    app = create_app(
        Project(name="livestream-marketplace"),
        seeded.store,
        clock=Clock.fixed(NOW + timedelta(minutes=5)),
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_overview_incident_feedback(base_url: str, seeded: Seeded) -> None:
    executable = chromium_path()
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

            page.goto(base_url + "/")
            expect(page.get_by_role("heading", name="Data health")).to_be_visible()
            expect(page.locator(".kpi").nth(1)).to_contain_text("1")
            page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

            page.get_by_role("link", name="Orders volume dropped 80%").click()
            expect(page).to_have_url(f"{base_url}/incidents/{seeded.incident}")
            expect(page.locator("svg.lineage .node.root")).to_contain_text("raw.orders")
            expect(page.locator("svg.lineage .node.hit")).to_have_count(2)
            expect(page.locator("svg.chart .mark")).to_have_count(1)
            page.screenshot(path=str(SHOTS / "incident.png"), full_page=True)

            row = page.locator(f"#alert-{seeded.volume_alert}")
            expect(row.locator(".reviewed")).to_have_count(0)
            row.get_by_role("button", name="Expected").click()
            expect(page.locator(".flash")).to_contain_text("marked expected")
            row = page.locator(f"#alert-{seeded.volume_alert}")
            expect(row.locator(".reviewed")).to_have_text("✓ expected")
            expect(page.locator("svg.chart .mark.reviewed")).to_have_count(1)
            page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays on top
            page.screenshot(path=str(SHOTS / "incident-after-feedback.png"), full_page=True)

            page.get_by_role("button", name="Acknowledge").click()
            expect(page.locator(".page-head .status")).to_have_text("acknowledged")

            page.goto(f"{base_url}/tables/{seeded.orders}")
            expect(page.locator("svg.chart")).to_have_count(1)
            page.screenshot(path=str(SHOTS / "table.png"), full_page=True)
            page.goto(f"{base_url}/lineage?incident={seeded.incident}")
            expect(page.locator("svg.lineage .node")).to_have_count(4)
            page.screenshot(path=str(SHOTS / "lineage.png"), full_page=True)
            page.goto(f"{base_url}/tables/424242")
            expect(page.get_by_role("heading", name="Not found")).to_be_visible()
            problems = [p for p in problems if "404" not in p]
            assert problems == []
        finally:
            browser.close()
    assert seeded.store.alerts.get(seeded.volume_alert)["feedback"] == "expected"  # type: ignore[index]

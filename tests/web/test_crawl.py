"""Every link on every page answers 200: a crawl through the ASGI app, from the overview.

Once, the 2d/7d/14d/30d range links of every table page answered 422 (a ``Literal`` query
type that one FastAPI/pydantic release read differently); a crawl finds any such link.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Seeded, make_client


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "link": "href", "script": "src", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.links.append(value)


def crawl(client: TestClient, start: str = "/", limit: int = 600) -> dict[str, int]:
    """Status of every same-origin URL reachable from ``start`` by links (GET only)."""
    seen: dict[str, int] = {}
    todo = deque([start])
    while todo and len(seen) < limit:
        url = todo.popleft()
        if url in seen:
            continue
        r = client.get(url, follow_redirects=True)
        seen[url] = r.status_code
        if not r.headers.get("content-type", "").startswith("text/html"):
            continue
        parser = _Links()
        parser.feed(r.text)
        for href in parser.links:
            absolute, _ = urldefrag(urljoin("http://testserver" + url, href))
            parts = urlsplit(absolute)
            if parts.netloc != "testserver" or parts.scheme not in ("http", "https"):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path not in seen and not path.startswith("/logout"):
                todo.append(path)
    return seen


def test_every_link_of_a_small_store_answers_200(seeded: Seeded) -> None:
    with make_client(seeded) as client:
        seen = crawl(client)
    broken = {u: s for u, s in seen.items() if s != 200}
    assert not broken, broken
    # the crawl reached the pages people use, range links included
    assert any(u.startswith(f"/tables/{seeded.orders}?days=7") for u in seen)
    assert f"/incidents/{seeded.incident}" in seen and "/lineage" in {u.split("?")[0] for u in seen}


def test_the_range_links_of_a_table_page_answer(client: TestClient, seeded: Seeded) -> None:
    for days in (2, 7, 14, 30):
        r = client.get(f"/tables/{seeded.orders}?days={days}")
        assert r.status_code == 200, (days, r.text[:300])
        assert f'days={days}" aria-current="true"' in r.text


@pytest.mark.slow
# the demo's runs take about two minutes on this 2-core machine; the crawl is bounded to the
# first 250 pages breadth-first from the overview (every page kind and every incident; the
# full 1,500-page crawl ran past 10 minutes here, so it would dominate the suite)
@pytest.mark.timeout(1500)
def test_every_link_of_the_demo_answers_200(tmp_path: Path) -> None:
    from tidegauge.cli.demo import run_demo
    from tidegauge.config import load_project
    from tidegauge.core.clock import Clock
    from tidegauge.store.store import Store
    from tidegauge.web.server import create_app

    summary = run_demo(tmp_path, quiet=True, days=30)
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    try:
        end = max(r["as_of"] for r in store.runs(limit=1))
        app = create_app(project, store, clock=Clock.fixed(end + timedelta(minutes=5)))
        with TestClient(app, raise_server_exceptions=False) as client:
            seen = crawl(client, limit=250)
    finally:
        store.close()
    broken = {u: s for u, s in seen.items() if s != 200}
    assert not broken, broken
    assert len(summary["incidents"]) > 0
    assert sum(1 for u in seen if u.startswith("/incidents/")) >= len(summary["incidents"])

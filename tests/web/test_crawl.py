"""Every link on every page answers 200: a crawl through the ASGI app, from the overview.

Once, the 2d/7d/14d/30d range links of every table page answered 422 (a ``Literal`` query
type that one FastAPI/pydantic release read differently); a crawl finds any such link.

The crawl is exhaustive, over the web tests' small store and over the demo's: every link on
every page is fetched and followed, none sampled. On the demo that is about 800 pages, most
of them the range and column variants of table pages (``/tables/{id}?column&days``): chart
pages whose bands come from the live detector walked over the table's history. They take
seconds between them, not minutes, because a series is walked once and every range and page
showing it slices that walk (:mod:`tidegauge.web.bands`).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Seeded, make_client
from tests.web.demo_site import demo_app, demo_folder
from tidegauge.web.bands import series_keys
from tidegauge.web.pages.tables import RANGE_DAYS

#: kinds of page (:func:`kind_of`) the demo's crawl must reach
DEMO_KINDS = (
    "/",
    "/alerts",
    "/alerts/{id}",
    "/incidents",
    "/incidents/{id}",
    "/lineage",
    "/lineage?node",
    "/tables",
    "/tables/{id}",
    "/tables/{id}?days",
    "/tables/{id}?column",
    "/tables/{id}?column&days",
    "/openapi.json",
)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "link": "href", "script": "src", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.links.append(value)


def kind_of(url: str) -> str:
    """A page's kind: its path with numeric segments as ``{id}``, and its query's names.

    >>> kind_of("/tables/12?days=7&column=status")
    '/tables/{id}?column&days'
    >>> kind_of("/incidents/3")
    '/incidents/{id}'
    """
    parts = urlsplit(url)
    path = re.sub(r"/\d+(?=/|$)", "/{id}", parts.path)
    names = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return path + ("?" + "&".join(names) if names else "")


@dataclass
class Crawl:
    status: dict[str, int] = field(default_factory=dict)  # every URL fetched
    kinds: Counter[str] = field(default_factory=Counter)  # pages fetched per kind


def crawl(client: TestClient, start: str = "/", limit: int = 600) -> Crawl:
    """Status of every same-origin URL reachable from ``start`` by links (GET only)."""
    out = Crawl()
    todo = deque([start])
    while todo and len(out.status) < limit:
        url = todo.popleft()
        if url in out.status:
            continue
        kind = kind_of(url)
        r = client.get(url, follow_redirects=True)
        out.status[url] = r.status_code
        out.kinds[kind] += 1
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
            if path not in out.status and not path.startswith("/logout"):
                todo.append(path)
    assert not todo or len(out.status) >= limit
    return out


def test_every_link_of_a_small_store_answers_200(seeded: Seeded) -> None:
    with make_client(seeded) as client:
        seen = crawl(client).status
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
# the demo is built once per session (tests/web/demo_site.py); on this loaded 2-core machine
# that and the crawl take minutes
@pytest.mark.timeout(2400)
def test_every_link_of_the_demo_answers_200(tmp_path_factory) -> None:
    app, store = demo_app(demo_folder(tmp_path_factory))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            seen = crawl(client, limit=5000)
        incidents = store.incidents.list()
        tables = store.tables()
        # the columns a table page links: those listed that have series
        linked = {
            t.id: {k[1] for k in series_keys(store, t.id)} & {c.name for c in store.columns(t.id)}
            for t in tables
        }
    finally:
        store.close()
    broken = {u: s for u, s in seen.status.items() if s != 200}
    assert not broken, broken
    assert len(seen.status) < 5000  # the crawl ran out of links, not of budget
    # it reached every kind of page people use
    assert len(incidents) >= 5  # the demo's five problems, each fetched
    assert {f"/incidents/{i['id']}" for i in incidents} <= set(seen.status)
    assert set(DEMO_KINDS) <= set(seen.kinds), set(DEMO_KINDS) - set(seen.kinds)
    # every table, every column with series, and each of them at every range
    pages = {(urlsplit(u).path, frozenset(parse_qsl(urlsplit(u).query))) for u in seen.status}
    for t in tables:
        for column in [None, *sorted(linked[t.id])]:
            for days in (None, *RANGE_DAYS):
                query = {("column", column)} if column else set()
                query |= {("days", str(days))} if days else set()
                assert (f"/tables/{t.id}", frozenset(query)) in pages, (t.ref.fqn, column, days)

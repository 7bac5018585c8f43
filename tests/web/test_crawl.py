"""Every link on every page answers 200: a crawl through the ASGI app, from the overview.

Once, the 2d/7d/14d/30d range links of every table page answered 422 (a ``Literal`` query
type that one FastAPI/pydantic release read differently); a crawl finds any such link.

Over the web tests' small store the crawl is exhaustive: every link on every page. Over
the demo's store it samples one thing only, the variants of table pages: every other link
of every fetched page is fetched (every incident, alert, lineage view, list page and
filter, and every table's own page), while of each kind of table-page variant (a kind is
the path with the numbers taken out plus the names of the query parameters:
``/tables/{id}?column``, ``/tables/{id}?days``, ``/tables/{id}?column&days``) the first
:data:`PER_KIND` found breadth-first are fetched and the rest are counted, not fetched. A
table-page variant is a chart page that walks the live detector over the table's history
(1-2 s each); the demo links about 800 distinct URLs, most of them such variants for other
columns and ranges, and the full crawl took more than 10 minutes here.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Seeded, make_client
from tests.web.demo_site import demo_app, demo_folder

#: table-page variants fetched per kind on the demo's store (see the module's docstring)
PER_KIND = 8


def table_variant(kind: str) -> bool:
    """Whether a page kind is a variant of a table page (a column, a range): sampled."""
    return kind.startswith("/tables/{id}?")


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
    unfetched: dict[str, str] = field(default_factory=dict)  # URL -> its kind, sampled out
    kinds: Counter[str] = field(default_factory=Counter)  # pages fetched per kind


def crawl(
    client: TestClient,
    start: str = "/",
    limit: int = 600,
    per_kind: int | None = None,
    sampled: Callable[[str], bool] = lambda kind: True,
) -> Crawl:
    """Status of every same-origin URL reachable from ``start`` by links (GET only); with
    ``per_kind``, at most that many URLs of each ``sampled`` kind are fetched (the first
    found), every URL of other kinds is."""
    out = Crawl()
    todo = deque([start])
    while todo and len(out.status) < limit:
        url = todo.popleft()
        if url in out.status or url in out.unfetched:
            continue
        kind = kind_of(url)
        if per_kind is not None and sampled(kind) and out.kinds[kind] >= per_kind:
            out.unfetched[url] = kind
            continue
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
def test_every_kind_of_link_of_the_demo_answers_200(tmp_path_factory) -> None:
    app, store = demo_app(demo_folder(tmp_path_factory))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            seen = crawl(client, limit=5000, per_kind=PER_KIND, sampled=table_variant)
        incidents = store.incidents.list()
        tables = store.tables()
    finally:
        store.close()
    broken = {u: s for u, s in seen.status.items() if s != 200}
    assert not broken, broken
    # the crawl ran out of links, not of budget; only table-page variants were left out,
    # of kinds it fetched
    assert len(seen.status) < 5000
    assert all(table_variant(k) and seen.kinds[k] == PER_KIND for k in seen.unfetched.values())
    # it reached the pages people use: every incident, tables with their ranges, columns,
    # alerts, lineage, search
    assert 5 <= len(incidents) <= PER_KIND  # the demo's five problems, each fetched
    assert {f"/incidents/{i['id']}" for i in incidents} <= set(seen.status)
    assert {f"/tables/{t.id}" for t in tables} <= set(seen.status)
    assert any(k.startswith("/tables/{id}?") and "days" in k for k in seen.kinds)
    for kind in ("/", "/incidents", "/alerts", "/tables", "/lineage"):
        assert seen.kinds[kind] >= 1, kind

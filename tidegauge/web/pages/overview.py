"""Sign-in, the overview page (health by schema, freshness, open incidents), search and
``/healthz``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidegauge.core.lineage import Node
from tidegauge.store import browse
from tidegauge.store.store import Store
from tidegauge.web.cache import RunCache
from tidegauge.web.deps import (
    TOKEN_COOKIE,
    auth_enabled,
    clock_of,
    project_of,
    safe_next,
    store_of,
    token_matches,
    verify_csrf,
)
from tidegauge.web.pages.lineage import cached_graph
from tidegauge.web.pages.render import READ, back, render, sev_state

router = APIRouter(include_in_schema=False)

# --------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login", dependencies=[Depends(verify_csrf)])
def login(
    request: Request,
    token: Annotated[str, Form(max_length=500)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    project = project_of(request)
    web = project.web
    if not auth_enabled(project) or token_matches(token, [*web.read_tokens, *web.admin_tokens]):
        resp = back(safe_next(next), "Signed in.")
        resp.set_cookie(
            TOKEN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
            max_age=30 * 86400,
        )
        return resp
    return render(
        request, "login.html", {"next": safe_next(next), "error": "That token is not valid."}, 401
    )


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout() -> Response:
    resp = back("/login", "Signed out.")
    resp.delete_cookie(TOKEN_COOKIE, path="/")
    return resp


# --------------------------------------------------------------------------- overview


@router.get("/", response_class=HTMLResponse, dependencies=READ)
def overview(request: Request) -> Response:
    store = store_of(request)
    now = clock_of(request).now()
    states = browse.health_states(store, now)
    schemas = browse.schema_health(store, states)
    open_incidents, open_total = browse.list_incidents(
        store, browse.IncidentFilter(status=list(browse.OPEN_STATUSES)), limit=8
    )
    alerts, _ = browse.list_alerts(store, browse.AlertFilter(), limit=8, count=False)
    unreviewed = sum(n for _, _, n in states.values())
    latest = latest_cached(store)
    fresh = freshness_summary(store, latest, now)
    runs = store.runs(limit=1)
    n_tables = sum(h.tables for h in schemas)
    return render(
        request,
        "overview.html",
        {
            "schemas": schemas,
            "tables": n_tables,
            "states": {k: sum(getattr(h, k) for h in schemas) for k in ("ok", "warn", "critical")},
            "incidents": open_incidents,
            "open_total": open_total,
            "critical_open": sum(
                1 for i in open_incidents if sev_state(i["severity"]) == "critical"
            ),
            "alerts": alerts,
            "unreviewed": unreviewed,
            "fresh": fresh,
            "last_run": runs[0] if runs else None,
            "active": "overview",
        },
    )


def latest_cached(store: Store) -> dict[int, datetime]:
    return RunCache.get(_latest_cache, store, ("latest",), lambda: browse.latest_data_times(store))


_latest_cache = RunCache(max_entries=2)

FRESH_BUCKETS = [
    ("< 1h", 3600),
    ("1–6h", 6 * 3600),
    ("6–24h", 86400),
    ("1–7d", 7 * 86400),
    ("> 7d", math.inf),
]


def freshness_summary(store: Store, latest: dict[int, datetime], now: datetime) -> dict[str, Any]:
    counts = {name: 0 for name, _ in FRESH_BUCKETS}
    for t in latest.values():
        age = (now - t).total_seconds()
        for name, limit in FRESH_BUCKETS:
            if age < limit:
                counts[name] += 1
                break
    stalest_ids = sorted(latest, key=lambda i: latest[i])[:6]
    tables = browse.tables_by_id(store, stalest_ids)
    stalest = [(tables[i], latest[i]) for i in stalest_ids if i in tables]
    total = max(sum(counts.values()), 1)
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "stalest": stalest,
        "shares": {k: v / total for k, v in counts.items()},
    }


# --------------------------------------------------------------------------- search


@router.get("/search", response_class=HTMLResponse, dependencies=READ)
def search(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    store = store_of(request)
    q = q.strip()
    if not q:
        return render(
            request,
            "search.html",
            {"q": "", "tables": [], "columns": [], "incidents": [], "nodes": [], "total": 0},
        )
    tables, n_tables = browse.list_tables(store, q=q, limit=25)
    columns = browse.search_columns(store, q, limit=25)
    incidents, _ = browse.list_incidents(store, browse.IncidentFilter(q=q), limit=15)
    nodes: list[Node] = []
    graph = cached_graph(store)
    if graph is not None:
        low = q.lower()
        known = {t.ref.fqn.lower() for t in tables}
        nodes = [
            n
            for n in graph.nodes
            if (low in n.display.lower() or low in n.id.lower()) and (n.key or "") not in known
        ][:15]
    total = len(tables) + len(columns) + len(incidents) + len(nodes)
    if len(tables) == 1 and total == 1:
        return RedirectResponse(f"/tables/{tables[0].id}", 303)
    return render(
        request,
        "search.html",
        {
            "q": q,
            "tables": tables,
            "n_tables": n_tables,
            "columns": columns,
            "incidents": incidents,
            "nodes": nodes,
            "total": total,
        },
    )


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}

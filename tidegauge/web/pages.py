"""Server-rendered pages: overview, tables, incidents, alerts, lineage explorer and search.

Every form posts with a CSRF token and redirects back (post/redirect/get), leaving a short
flash message; a read-only token sees the buttons disabled with the reason. Templates are
Jinja2 with autoescaping; charts and graphs are SVG built in :mod:`tidegauge.web.charts` and
:mod:`tidegauge.web.graph_svg`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as FastApiPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from tidegauge.core.catalogue import Scope, charted, spec
from tidegauge.core.lineage import LineageGraph, LineageLookupError, LineageResult, Node
from tidegauge.core.metrics import Metric
from tidegauge.core.model import Feedback, IncidentStatus
from tidegauge.steps.lineage import load_graph
from tidegauge.steps.notify import set_incident_status
from tidegauge.store.store import Store
from tidegauge.web import api, bands, queries, undelivered
from tidegauge.web.charts import format_value, metric_chart, unit_of
from tidegauge.web.deps import (
    MAX_ID,
    MAX_OFFSET,
    TOKEN_COOKIE,
    Principal,
    auth_enabled,
    clock_of,
    csrf_token,
    principal_of,
    project_of,
    require_admin,
    require_read,
    safe_next,
    set_csrf_cookie,
    store_of,
    token_matches,
    verify_csrf,
)
from tidegauge.web.graph_svg import GraphNode, lineage_svg

TEMPLATES = Path(__file__).parent / "templates"
#: ids in page paths are bounded like the API's: a number past 64 bits is a 422, not a 500
PageId = Annotated[int, FastApiPath(ge=1, le=MAX_ID)]
FLASH_COOKIE = "tidegauge_flash"
MAX_GRAPH_NODES = 60

templates = Jinja2Templates(directory=str(TEMPLATES))
router = APIRouter(include_in_schema=False)
READ = [Depends(require_read)]
WRITE = [Depends(require_admin), Depends(verify_csrf)]

#: the charts a table's and a column's page show, in the catalogue's order
TABLE_METRICS = charted(Scope.TABLE)
COLUMN_METRICS = charted(Scope.COLUMN)
#: the ranges a table page offers (2d/7d/14d/30d links)
RANGE_DAYS = (2, 7, 14, 30)
STATUS_ACTIONS = [
    (IncidentStatus.ACKNOWLEDGED, "Acknowledge"),
    (IncidentStatus.INVESTIGATING, "Investigating"),
    (IncidentStatus.FIXED, "Fixed"),
    (IncidentStatus.EXPECTED, "Expected"),
    (IncidentStatus.FALSE_POSITIVE, "False positive"),
    (IncidentStatus.NO_ACTION_NEEDED, "No action needed"),
]
FEEDBACK_ACTIONS = [
    (Feedback.EXPECTED, "Expected"),
    (Feedback.FALSE_POSITIVE, "False positive"),
    (Feedback.FIXED, "Fixed"),
]
_graph_cache = queries.RunCache(max_entries=4)


# --------------------------------------------------------------------------- formatting


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    now = now or datetime.now(UTC)
    secs = (now - value).total_seconds()
    future = secs < 0
    secs = abs(secs)
    if secs < 60:
        text = "just now" if not future else "in under a minute"
        return text
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            n = int(secs // size)
            return f"in {n}{unit}" if future else f"{n}{unit} ago"
    return "just now"


def when(value: datetime | None) -> str:
    return f"{value:%a %d %b %Y, %H:%M} UTC" if value else "–"


def sev_state(severity: str | None) -> str:
    return {"critical": "critical", "high": "critical", "medium": "warn", "low": "warn"}.get(
        severity or "", "ok"
    )


def label(text: str | None) -> str:
    return (text or "").replace("_", " ")


def number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.3g}"


def size(value: int | None) -> str:
    if value is None:
        return "–"
    v = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if v < 1024 or unit == "TB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return f"{v:.1f} TB"


def metric_value(value: float | None, metric: str) -> str:
    return format_value(value, unit_of(metric))


def ticks(text: str) -> Markup:
    """Escape, then show `backticked` names (as hints write them) as code."""
    parts = str(text).split("`")
    return Markup("").join(
        Markup("<code>{}</code>").format(p) if i % 2 else escape(p) for i, p in enumerate(parts)
    )


def _explain(alert: dict[str, Any]) -> str:
    from tidegauge.core.explain import explain

    return explain(alert)


def _headline(alert: dict[str, Any]) -> str:
    from tidegauge.core.explain import headline

    return headline(alert)


templates.env.filters.update(
    explain=_explain,
    headline=_headline,
    ago=ago,
    when=when,
    sev_state=sev_state,
    label=label,
    number=number,
    size=size,
    metric_value=metric_value,
    ticks=ticks,
)
templates.env.globals.update(FEEDBACK_ACTIONS=FEEDBACK_ACTIONS, STATUS_ACTIONS=STATUS_ACTIONS)
templates.env.globals["undelivered_banner"] = undelivered.banner  # base.html's banner


# --------------------------------------------------------------------------- rendering


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    project = project_of(request)
    p: Principal | None = getattr(request.state, "principal", None) or principal_of(request)
    flash = request.cookies.get(FLASH_COOKIE)
    ctx = {
        "request": request,
        "csrf": csrf_token(request),
        "can_write": p is not None and p.is_admin,
        "principal": p,
        "auth": auth_enabled(project),
        "project_name": project.name,
        "flash": unquote(flash)[:300] if flash else None,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "now": clock_of(request).now(),
        **context,
    }
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    set_csrf_cookie(request, response)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def error_page(
    request: Request, status: int, message: str, reasons: Sequence[str] = ()
) -> HTMLResponse:
    titles = {
        404: "Not found",
        403: "Not allowed",
        422: "Invalid input",
        500: "Server error",
        405: "Not allowed",
    }
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": titles.get(status, "Error"),
            "message": message,
            "reasons": list(reasons),
        },
        status_code=status,
    )


def back(target: str, message: str) -> RedirectResponse:
    resp = RedirectResponse(target, status_code=303)
    resp.set_cookie(
        FLASH_COOKIE, quote(message), max_age=30, httponly=True, samesite="strict", path="/"
    )
    return resp


def paging(total: int, limit: int, offset: int, request: Request) -> dict[str, Any]:
    params = dict(request.query_params)

    def link(off: int) -> str:
        return request.url.path + "?" + urlencode({**params, "offset": off})

    return {
        "total": total,
        "first": offset + 1 if total else 0,
        "last": min(offset + limit, total),
        "prev": link(max(0, offset - limit)) if offset > 0 else None,
        "next": link(offset + limit) if offset + limit < total else None,
    }


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
    states = queries.health_states(store, now)
    schemas = queries.schema_health(store, states)
    open_incidents, open_total = queries.list_incidents(
        store, queries.IncidentFilter(status=list(queries.OPEN_STATUSES)), limit=8
    )
    alerts, _ = queries.list_alerts(store, queries.AlertFilter(), limit=8, count=False)
    unreviewed = sum(n for _, _, n in states.values())
    latest = _latest_cached(store)
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


def _latest_cached(store: Store) -> dict[int, datetime]:
    return queries.RunCache.get(
        _latest_cache, store, ("latest",), lambda: queries.latest_data_times(store)
    )


_latest_cache = queries.RunCache(max_entries=2)

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
    tables = queries.tables_by_id(store, stalest_ids)
    stalest = [(tables[i], latest[i]) for i in stalest_ids if i in tables]
    total = max(sum(counts.values()), 1)
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "stalest": stalest,
        "shares": {k: v / total for k, v in counts.items()},
    }


# --------------------------------------------------------------------------- tables


@router.get("/tables", response_class=HTMLResponse, dependencies=READ)
def tables_page(
    request: Request,
    q: Annotated[str | None, Query(max_length=200)] = None,
    schema: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    store = store_of(request)
    limit = 50
    rows, total = queries.list_tables(store, q=q, schema=schema, limit=limit, offset=offset)
    states = queries.health_states(store, clock_of(request).now(), [t.id for t in rows])
    latest = _latest_cached(store)
    project = project_of(request)
    items = [
        (t, states.get(t.id, ("ok", 0, 0)), latest.get(t.id), api.owners_and_tags(project, t)[0])
        for t in rows
    ]
    return render(
        request,
        "tables.html",
        {
            "items": items,
            "q": q or "",
            "schema": schema,
            "page": paging(total, limit, offset, request),
            "active": "tables",
        },
    )


def chart_keys(
    keys: list[tuple[str, str, str, int]], column: str | None, alerted: set[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    have = {(m, c) for m, c, seg, _ in keys if not seg}
    out: list[tuple[str, str, str]] = []
    table_level = [m for m in TABLE_METRICS if (m, "") in have]
    if Metric.BUCKET_ROW_COUNT in table_level and Metric.ROW_COUNT in table_level:
        table_level.remove(Metric.ROW_COUNT)
    out += [(m, "", "") for m in table_level]
    if column is not None:
        out += [(m, column, "") for m in COLUMN_METRICS if (m, column) in have]
    else:
        for m, c in sorted(alerted):
            if c and (m, c) in have and (m, c, "") not in out and m in COLUMN_METRICS:
                out.append((m, c, ""))
    return out[:16]


@router.get("/tables/{table_id}", response_class=HTMLResponse, dependencies=READ)
def table_page(
    request: Request,
    table_id: PageId,
    column: Annotated[str | None, Query(max_length=400)] = None,
    # a plain int, snapped to the ranges the page offers: ``Literal[2, 7, 14, 30]`` answered
    # 422 to ?days=7 under some FastAPI/pydantic releases (query values arrive as strings)
    days: Annotated[int, Query(ge=1, le=365)] = 14,
) -> Response:
    days = min(RANGE_DAYS, key=lambda d: abs(d - days))
    store, project = store_of(request), project_of(request)
    t = store.table(table_id)
    if t is None:
        raise HTTPException(404, f"There is no table with id {table_id}.")
    now = clock_of(request).now()
    columns = store.columns(t.id)
    if column is not None and column not in {c.name for c in columns}:
        raise HTTPException(404, f"{t.ref.fqn} has no column named {column!r}.")
    state = queries.health_states(store, now, [t.id]).get(t.id, ("ok", 0, 0))
    keys = queries.series_keys(store, t.id)
    alerts, alerts_total = queries.list_alerts(store, queries.AlertFilter(table_id=t.id), limit=10)
    alerted = {(a["metric"], a["column"] or "") for a in alerts}
    wanted = chart_keys(keys, column, alerted)
    series = bands.banded(store, t.id, wanted, now, display=timedelta(days=days), project=project)
    charts = [
        {
            "title": chart_title(s.metric, s.column),
            "metric": s.metric,
            "column": s.column,
            "svg": metric_chart(
                s.chart(alert_href="/alerts/{id}"),
                metric=s.metric,
                title=chart_title(s.metric, s.column),
            ),
            "last": s.values[-1] if s.values else None,
            "alerts": len(s.alerts),
            "band_from": s.band_from,
        }
        for s in series
    ]
    events = store.schema_events(t.id)
    changed = {e["column_name"] for e in events}
    graph = cached_graph(store)
    in_lineage = False
    if graph is not None:
        try:
            graph.resolve(t.ref.fqn)
            in_lineage = True
        except LineageLookupError:
            pass
    incidents, _ = queries.list_incidents(
        store, queries.IncidentFilter(table_id=t.id, status=list(queries.OPEN_STATUSES)), limit=5
    )
    owners, tags = api.owners_and_tags(project, t)
    col_metrics: dict[str, int] = {}
    for _m, c, _, _ in keys:
        if c:
            col_metrics[c] = col_metrics.get(c, 0) + 1
    return render(
        request,
        "table.html",
        {
            "t": t,
            "state": state,
            "owners": owners,
            "tags": tags,
            "columns": columns,
            "events": events[:30],
            "changed": changed,
            "charts": charts,
            "alerts": alerts,
            "alerts_total": alerts_total,
            "incidents": incidents,
            "column": column,
            "monitors": api.monitors_for(project, store, t, keys),
            "latest": _latest_cached(store).get(t.id),
            "col_metrics": col_metrics,
            "description": queries.table_description(store, t.id),
            "active": "tables",
            "days": days,
            "in_lineage": in_lineage,
        },
    )


def chart_title(metric: str, column: str, segment: str = "") -> str:
    """The plain title of a chart, from the metric catalogue; a value's own series reads
    "Rows with status = 'on_hold'", never the title of another metric of its column."""
    if metric in ("value_count", "value_share") and column:
        return f"Rows with {column} = '{segment}'" if segment else f"Values of {column}"
    try:
        name = spec(metric).title
    except KeyError:
        name = label(metric).capitalize()
    return f"{name} · {column}" if column else name


# --------------------------------------------------------------------------- alerts


@router.get("/alerts", response_class=HTMLResponse, dependencies=READ)
def alerts_page(
    request: Request,
    feedback: Annotated[
        Literal["expected", "false_positive", "fixed", "none"] | None, Query()
    ] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    limit = 50
    rows, total = queries.list_alerts(
        store_of(request),
        queries.AlertFilter(feedback=feedback, kind=kind),
        limit=limit,
        offset=offset,
    )
    return render(
        request,
        "alerts.html",
        {
            "alerts": rows,
            "feedback": feedback,
            "kind": kind,
            "page": paging(total, limit, offset, request),
            "active": "alerts",
        },
    )


@router.get("/alerts/{alert_id}", dependencies=READ)
def alert_page(request: Request, alert_id: PageId) -> Response:
    a = queries.get_alert(store_of(request), alert_id)
    if a is None:
        raise HTTPException(404, f"There is no alert with id {alert_id}.")
    if a["incident_id"]:
        return RedirectResponse(f"/incidents/{a['incident_id']}#alert-{alert_id}", 303)
    return RedirectResponse(f"/tables/{a['table_id']}#alert-{alert_id}", 303)


@router.post("/alerts/{alert_id}/feedback", dependencies=WRITE)
def alert_feedback(
    request: Request,
    alert_id: PageId,
    value: Annotated[Feedback, Form()],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    store = store_of(request)
    who: Principal = request.state.principal
    try:
        store.alerts.set_feedback(alert_id, value, clock_of(request).now(), actor=who.name)
    except KeyError:
        raise HTTPException(404, f"There is no alert with id {alert_id}.") from None
    target = safe_next(next)
    return back(
        f"{target}#alert-{alert_id}",
        f"Alert #{alert_id} marked {label(value.value)}: the detector will learn "
        "from it on the next run.",
    )


# --------------------------------------------------------------------------- incidents


@router.get("/incidents", response_class=HTMLResponse, dependencies=READ)
def incidents_page(
    request: Request,
    state: Annotated[Literal["open", "closed", "all"], Query()] = "open",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    limit = 50
    statuses = {
        "open": list(queries.OPEN_STATUSES),
        "closed": [s.value for s in IncidentStatus if not s.is_open],
        "all": [],
    }[state]
    rows, total = queries.list_incidents(
        store_of(request), queries.IncidentFilter(status=statuses), limit=limit, offset=offset
    )
    return render(
        request,
        "incidents.html",
        {
            "incidents": rows,
            "state": state,
            "page": paging(total, limit, offset, request),
            "active": "incidents",
        },
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse, dependencies=READ)
def incident_page(request: Request, incident_id: PageId) -> Response:
    store = store_of(request)
    inc = queries.get_incident(store, incident_id)
    if inc is None:
        raise HTTPException(404, f"There is no incident with id {incident_id}.")
    now = clock_of(request).now()
    alerts, _ = queries.list_alerts(
        store, queries.AlertFilter(incident_id=incident_id), limit=200, count=False
    )
    root = next(
        (a for a in alerts if a["id"] == inc["root_alert_id"]), alerts[-1] if alerts else None
    )
    chart = None
    if root is not None:
        key = (root["metric"], root["column"] or "", root["segment"] or "")
        if root["kind"].startswith("category_") and root["segment"]:
            # a value's alert charts that value's rows per bucket (the series it came from)
            key = ("value_count", root["column"] or "", root["segment"])
        have = {(m, c, s) for m, c, s, _ in queries.series_keys(store, inc["table_id"])}
        if key in have:
            # three days before the incident to now (or a day after it, if it is old)
            end = min(now, inc["data_time"] + timedelta(days=1))
            s = bands.banded(
                store,
                inc["table_id"],
                [key],
                end,
                display=end - inc["data_time"] + timedelta(days=3),
                project=project_of(request),
            )[0]
            title = chart_title(s.metric, s.column, key[2])
            chart = {"title": title, "svg": metric_chart(s.chart(), metric=s.metric, title=title)}
    graph_svg, graph_note = incident_graph(store, inc)
    return render(
        request,
        "incident.html",
        {
            "inc": inc,
            "alerts": alerts,
            "root": root,
            "chart": chart,
            "graph": graph_svg,
            "graph_note": graph_note,
            "impact": inc["impact"] or {},
            "is_open": IncidentStatus(inc["status"]).is_open,
            "active": "incidents",
        },
    )


@router.post("/incidents/{incident_id}/status", dependencies=WRITE)
def incident_status(
    request: Request,
    incident_id: PageId,
    status: Annotated[IncidentStatus, Form()],
    note: Annotated[str | None, Form(max_length=10_000)] = None,
) -> Response:
    store = store_of(request)
    who: Principal = request.state.principal
    try:
        set_incident_status(
            request.app.state.project,
            store,
            incident_id,
            status,
            clock_of(request).now(),
            note=(note or "").strip() or None,
            actor=who.name,
        )
    except KeyError:
        raise HTTPException(404, f"There is no incident with id {incident_id}.") from None
    return back(
        f"/incidents/{incident_id}", f"Incident #{incident_id} is now {label(status.value)}."
    )


@router.post("/incidents/{incident_id}/notes", dependencies=WRITE)
def incident_note(
    request: Request,
    incident_id: PageId,
    text: Annotated[str, Form(min_length=1, max_length=10_000)],
) -> Response:
    store = store_of(request)
    if queries.get_incident(store, incident_id) is None:
        raise HTTPException(404, f"There is no incident with id {incident_id}.")
    who: Principal = request.state.principal
    now = clock_of(request).now()
    store.incidents.add_event(incident_id, "note", text.strip(), now, actor=who.name)
    store.incidents.update(incident_id, now)
    return back(f"/incidents/{incident_id}#timeline", "Note added.")


# --------------------------------------------------------------------------- lineage


def cached_graph(store: Store) -> LineageGraph | None:
    return _graph_cache.get(store, ("graph",), lambda: load_graph(store))


def _node_links(store: Store, nodes: list[Node]) -> dict[str, int]:
    return queries.table_ids_by_fqn(store, [n.key for n in nodes if n.key])


def build_graph(
    graph: LineageGraph,
    walks: list[LineageResult],
    *,
    root: Node,
    hit: set[str] = frozenset(),  # type: ignore[assignment]
    hit_state: str = "hit",
) -> tuple[list[GraphNode], list[tuple[str, str]], int]:
    seen: dict[str, Node] = {root.id: root}
    up_ids: set[str] = set()
    edges: list[tuple[str, str]] = []
    for w in walks:
        for h in w.nodes:
            if len(seen) >= MAX_GRAPH_NODES:
                break
            seen.setdefault(h.node.id, h.node)
            if w.direction == "upstream":
                up_ids.add(h.node.id)
        edges += [e for e in w.edges if e[0] in seen and e[1] in seen]
    total = 1 + sum(len(w.nodes) for w in walks)
    out = []
    for nid, n in seen.items():
        state = (
            "root"
            if nid == root.id
            else (
                hit_state
                if (n.key or "") in hit or n.display.lower() in hit
                else "upstream"
                if nid in up_ids
                else "normal"
            )
        )
        detail = n.kind.value + (f" · {', '.join(n.owners)}" if n.owners else "")
        out.append(
            GraphNode(
                nid,
                n.display,
                n.kind.value,
                state,
                href=f"/lineage?node={quote(n.id)}",
                detail=detail,
            )
        )
    return out, list(dict.fromkeys(edges)), total


def incident_graph(store: Store, inc: dict[str, Any]) -> tuple[Any, str | None]:
    graph = cached_graph(store)
    if graph is None:
        return None, "No lineage yet: it is built on each `tidegauge run`."
    try:
        root = graph.resolve(inc["table"] or "")
        down = graph.downstream(root)
        up = graph.upstream(root, depth=1)
    except LineageLookupError:
        return None, f"{inc['table']} is not in the lineage graph."
    hit = {t.lower() for t in (inc["impact"] or {}).get("tables", [])}
    nodes, edges, total = build_graph(graph, [up, down], root=root, hit=hit)
    note = None if total <= len(nodes) else f"Showing {len(nodes)} of {total} nodes."
    return lineage_svg(nodes, edges, title=f"Blast radius of incident #{inc['id']}"), note


def busiest_node(graph: LineageGraph) -> str | None:
    """The id of the table or model with the most lineage edges (ties: by name)."""
    degree: dict[str, int] = {}
    for source, target, _ in graph.edges:
        degree[source] = degree.get(source, 0) + 1
        degree[target] = degree.get(target, 0) + 1
    relations = [n for n in graph.nodes if n.kind.is_relation and n.id in degree]
    if not relations:
        return None
    return str(max(relations, key=lambda n: (degree[n.id], n.display)).id)


@router.get("/lineage", response_class=HTMLResponse, dependencies=READ)
def lineage_page(
    request: Request,
    node: Annotated[str | None, Query(max_length=400)] = None,
    direction: Annotated[Literal["both", "upstream", "downstream"], Query()] = "both",
    depth: Annotated[int, Query(ge=1, le=10)] = 2,
    incident: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    store = store_of(request)
    graph = cached_graph(store)
    ctx: dict[str, Any] = {
        "node": node or "",
        "direction": direction,
        "depth": depth,
        "incident": None,
        "svg": None,
        "error": None,
        "up": [],
        "down": [],
        "note": None,
        "has_graph": graph is not None,
        "active": "lineage",
        "suggestions": [],
        "links": {},
    }
    hit: set[str] = set()
    if incident is not None:
        inc = queries.get_incident(store, incident)
        if inc is None:
            raise HTTPException(404, f"There is no incident with id {incident}.")
        ctx["incident"] = inc
        hit = {t.lower() for t in (inc["impact"] or {}).get("tables", [])}
        node = node or inc["table"]
        ctx["node"] = node
        if incident and direction == "both" and depth == 2:
            depth = 10
    if graph is not None and not node:
        # open on something: the busiest neighbourhood, not a blank page asking for an id
        node = busiest_node(graph)
        if node is not None:
            ctx["note_open"] = "Opened on the most connected table; pick another below."
            ctx["suggestions"] = sorted(
                (n for n in graph.nodes if n.kind.is_relation), key=lambda n: n.display
            )[:40]
    if graph is None or not node:
        if graph is not None:
            ctx["suggestions"] = sorted(
                (n for n in graph.nodes if n.kind.is_relation), key=lambda n: n.display
            )[:40]
        return render(request, "lineage.html", ctx)
    try:
        root = graph.resolve(node)
    except LineageLookupError as e:
        ctx["error"] = str(e)
        ctx["suggestions"] = [graph.get(c) for c in e.candidates if graph.get(c)]
        return render(request, "lineage.html", ctx, 404)
    walks = []
    if direction in ("both", "upstream"):
        walks.append(graph.upstream(root, depth=depth))
    if direction in ("both", "downstream"):
        walks.append(graph.downstream(root, depth=depth))
    nodes, edges, total = build_graph(graph, walks, root=root, hit=hit)
    ctx.update(
        node=root.display,  # the name people know, never the internal id
        root=root,
        svg=lineage_svg(nodes, edges, title=f"Lineage of {root.display}"),
        note=None
        if total <= len(nodes)
        else f"Showing {len(nodes)} of {total} nodes; lower the depth to see the rest clearly.",
        up=[h for w in walks if w.direction == "upstream" for h in w.nodes],
        down=[h for w in walks if w.direction == "downstream" for h in w.nodes],
        links=_node_links(store, [root, *(h.node for w in walks for h in w.nodes)]),
    )
    return render(request, "lineage.html", ctx)


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
    tables, n_tables = queries.list_tables(store, q=q, limit=25)
    columns = queries.search_columns(store, q, limit=25)
    incidents, _ = queries.list_incidents(store, queries.IncidentFilter(q=q), limit=15)
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

"""The table list and a table's page: its charts with bands, columns, schema changes,
alerts, incidents and monitors.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from tidegauge.core.catalogue import Scope, charted, spec
from tidegauge.core.lineage import LineageLookupError
from tidegauge.core.metrics import Metric
from tidegauge.services.table_monitors import monitors_for
from tidegauge.store import browse
from tidegauge.web import api, bands
from tidegauge.web.charts import metric_chart
from tidegauge.web.deps import MAX_OFFSET, clock_of, project_of, store_of
from tidegauge.web.pages.lineage import cached_graph
from tidegauge.web.pages.overview import latest_cached
from tidegauge.web.pages.render import READ, PageId, label, paging, render

router = APIRouter(include_in_schema=False)
#: the charts a table's and a column's page show, in the catalogue's order
TABLE_METRICS = charted(Scope.TABLE)
COLUMN_METRICS = charted(Scope.COLUMN)
#: the ranges a table page offers (2d/7d/14d/30d links)
RANGE_DAYS = (2, 7, 14, 30)

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
    rows, total = browse.list_tables(store, q=q, schema=schema, limit=limit, offset=offset)
    states = browse.health_states(store, clock_of(request).now(), [t.id for t in rows])
    latest = latest_cached(store)
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
    state = browse.health_states(store, now, [t.id]).get(t.id, ("ok", 0, 0))
    keys = bands.series_keys(store, t.id)
    alerts, alerts_total = browse.list_alerts(store, browse.AlertFilter(table_id=t.id), limit=10)
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
    incidents, _ = browse.list_incidents(
        store, browse.IncidentFilter(table_id=t.id, status=list(browse.OPEN_STATUSES)), limit=5
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
            "monitors": monitors_for(project, store, t, keys),
            "latest": latest_cached(store).get(t.id),
            "col_metrics": col_metrics,
            "description": browse.table_description(store, t.id),
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

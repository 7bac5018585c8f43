"""The REST API under ``/api/v1``: tables, metrics, monitors, alerts, incidents, lineage, runs.

Lists page with ``limit``/``offset`` and answer ``{"items", "total", "limit", "offset"}``.
Alerts and incidents use the public shapes shared with the CLI's ``--json``
(:mod:`tidegauge.services.serialise`).
Reads need a read or admin token when tokens are configured; writes need an admin token and
a JSON body. OpenLineage events are received by :mod:`tidegauge.web.routes.openlineage`.
"""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from tidegauge.config import Project
from tidegauge.core.lineage import AmbiguousNodeError, LineageGraph, UnknownNodeError
from tidegauge.core.model import Feedback, IncidentStatus, Severity
from tidegauge.services.serialise import alert_json, incident_json
from tidegauge.services.table_monitors import monitors_for
from tidegauge.steps.notify import set_incident_status
from tidegauge.store import browse, reads
from tidegauge.store import monitors as stored_monitors
from tidegauge.store.engine import utc
from tidegauge.store.lineage import load_graph
from tidegauge.store.store import Store, StoredTable, columns_to_json
from tidegauge.web import bands
from tidegauge.web.cache import STATE_KEY
from tidegauge.web.deps import (
    MAX_ID,
    MAX_OFFSET,
    Principal,
    clock_of,
    project_of,
    quick_read,
    require_admin,
    require_read,
    store_of,
)

#: text parameters never hold NUL (tidegauge.web.guard refuses it); said in the schema too
NO_NUL = r"^[^\x00]*$"
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
#: an optional id in the query string, bounded like path ids
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]

PROBLEM: dict[int | str, dict[str, Any]] = {
    400: {"description": "unknown Host, or a body that is not valid or nested too deeply"},
    404: {"description": "no such object"},
    422: {"description": "invalid parameter (out of range, NUL character), with the reason"},
}
#: what a write can answer besides PROBLEM (tidegauge.web.guard)
WRITE_PROBLEM: dict[int | str, dict[str, Any]] = {
    403: {"description": "a cross-site request, or a token that may only read"},
    413: {"description": "body larger than the limit, before or after decompression"},
    415: {"description": "not Content-Type: application/json, or an unknown encoding"},
}


async def require_json(request: Request) -> None:
    """Writes take JSON only: a cross-site HTML form can never send it without a preflight."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise HTTPException(415, "send the body as Content-Type: application/json")


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_read)], responses=PROBLEM)
writes = [Depends(require_admin), Depends(require_json)]


class _Body(BaseModel):
    # unknown keys are an error, and the schema says so (additionalProperties: false)
    model_config = ConfigDict(extra="forbid")


class FeedbackIn(_Body):
    value: Feedback = Field(description="expected | false_positive | fixed")


class StatusIn(_Body):
    status: IncidentStatus
    note: str | None = Field(None, max_length=10_000, pattern=NO_NUL)


class NoteIn(_Body):
    text: str = Field(min_length=1, max_length=10_000, pattern=NO_NUL)


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def json_response(data: Any) -> Response:
    """JSON bytes as FastAPI would write them (pydantic's serializer), without validating a
    ``dict[str, Any]`` we built ourselves first: the hot read routes return this."""
    return Response(to_json(data), media_type="application/json")


Obj = dict[str, Any]


def memo_of(request: Request) -> reads.Memo:
    """Keeps derived values (counts) until the store changes, when the cache knows its
    generation for this request; computes them every time otherwise."""
    cache = request.app.state.response_cache
    generation = request.scope.get("state", {}).get(STATE_KEY)
    return lambda key, compute: cache.memo(generation, key, compute)


# --------------------------------------------------------------------------- tables


def owners_and_tags(project: Project, t: StoredTable) -> tuple[list[str], list[str]]:
    owner, extra = _configured(project, t.ref.fqn)
    owners = [o for o in (t.owner, owner) if o]
    tags = list(dict.fromkeys([*t.tags, *extra]))
    return list(dict.fromkeys(owners)), tags


Configured = tuple[str | None, tuple[str, ...]]  # owner, tags
_SETTINGS: dict[int, tuple[weakref.ref[Project], dict[str, Configured]]] = {}


def _configured(project: Project, fqn: str) -> Configured:
    """Owner and tags the project's ``tables:`` entries give a table, memoised per project
    object (matching globals for every table of every page costs more than the page)."""
    if not project.tables:
        return None, ()
    entry = _SETTINGS.get(id(project))
    if entry is None or entry[0]() is not project:  # new, or an id reused after a project died
        if len(_SETTINGS) >= 64:
            for key in [k for k, (ref, _) in _SETTINGS.items() if ref() is None]:
                del _SETTINGS[key]
        entry = _SETTINGS[id(project)] = (weakref.ref(project), {})
    memo = entry[1]
    hit = memo.get(fqn)
    if hit is None:
        settings = project.settings_for(fqn)
        if len(memo) >= 100_000:
            memo.clear()
        hit = memo[fqn] = (settings.owner, tuple(settings.tags))
    return hit


def table_json(project: Project, r: Any) -> dict[str, Any]:
    """The public shape of a table, from a row of :func:`reads.table_page` or
    :func:`reads.table` (table columns and health)."""
    (
        table_id,
        warehouse,
        _,
        schema,
        name,
        kind,
        row_count,
        nbytes,
        last_modified,
        last_seen,
        _,
        owner,
        tags,
        dbt_unique_id,
        timestamp_column,
    ) = r[: reads.N_TABLE_COLS]
    fqn = f"{schema}.{name}"
    configured_owner, extra = _configured(project, fqn)
    health, incidents, alerts = reads.health(r)
    return {
        "id": table_id,
        "warehouse": warehouse,
        "schema": schema,
        "name": name,
        "fqn": fqn,
        "kind": kind,
        "row_count": row_count,
        "bytes": nbytes,
        "last_modified": utc(last_modified),
        "last_seen": utc(last_seen),
        "latest_data": None,
        "owners": list(dict.fromkeys(o for o in (owner, configured_owner) if o)),
        "tags": list(dict.fromkeys([*(tags or []), *extra])),
        "dbt_unique_id": dbt_unique_id,
        "timestamp_column": timestamp_column,
        "health": health,
        "open_incidents": incidents,
        "recent_alerts": alerts,
    }


def get_table(store: Store, table_id: int) -> StoredTable:
    t = store.table(table_id)
    if t is None:
        raise HTTPException(404, f"no table with id {table_id}")
    return t


@router.get("/tables", summary="List monitored tables", response_model=Obj)
@quick_read
def list_tables(
    request: Request,
    limit: Limit = 100,
    offset: Offset = 0,
    q: Annotated[
        str | None, Query(pattern=NO_NUL, max_length=200, description="name contains")
    ] = None,
    schema: Annotated[str | None, Query(pattern=NO_NUL, max_length=200)] = None,
    warehouse: Annotated[str | None, Query(pattern=NO_NUL, max_length=200)] = None,
) -> Response:
    store, project = store_of(request), project_of(request)
    conditions = browse.table_conditions(q=q, schema=schema, warehouse=warehouse)
    with store.engine.connect() as c:
        rows, total = reads.table_page(
            c, clock_of(request).now(), limit, offset, conditions, memo_of(request)
        )
    return json_response(page([table_json(project, r) for r in rows], total, limit, offset))


@router.get(
    "/tables/{table_id}", summary="One table with its columns and health", response_model=Obj
)
@quick_read
def table_detail(request: Request, table_id: Id) -> Response:
    store, project = store_of(request), project_of(request)
    with store.engine.connect() as c:
        r = reads.table(c, table_id, clock_of(request).now())
        if r is None:
            raise HTTPException(404, f"no table with id {table_id}")
        out = table_json(project, r)
        out["description"] = r.description
        out["columns"] = reads.columns_json(c, table_id)
    return json_response(out)


@router.get("/tables/{table_id}/columns", summary="Columns of a table")
@quick_read
def table_columns(request: Request, table_id: Id) -> list[dict[str, Any]]:
    store = store_of(request)
    get_table(store, table_id)
    return columns_to_json(store.columns(table_id))


@router.get("/tables/{table_id}/schema-history", summary="Schema changes, newest first")
@quick_read
def schema_history(request: Request, table_id: Id) -> list[dict[str, Any]]:
    store = store_of(request)
    get_table(store, table_id)
    return [
        {
            k: e[k]
            for k in ("detected_at", "change", "column_name", "old_value", "new_value", "details")
        }
        for e in store.schema_events(table_id)
    ]


@router.get("/tables/{table_id}/metrics", summary="Metric series stored for a table")
@quick_read
def table_metrics(request: Request, table_id: Id) -> list[dict[str, Any]]:
    store = store_of(request)
    get_table(store, table_id)
    return [
        {"metric": m, "column": c or None, "segment": s or None, "points": n}
        for m, c, s, n in browse.series_keys(store, table_id)
    ]


@router.get(
    "/tables/{table_id}/metrics/{metric}",
    summary="History of one series with its expected band",
    description="Points of the last `days` days. `expected`/`lower`/`upper` come from the "
    "alert where the detector raised one, else from the live detector walked forward over the "
    "window (`band_from` is the first point it covers).",
)
def metric_history(
    request: Request,
    table_id: Id,
    metric: Annotated[str, Path(pattern=NO_NUL, max_length=100)],
    column: Annotated[str | None, Query(pattern=NO_NUL, max_length=400)] = None,
    segment: Annotated[str | None, Query(pattern=NO_NUL, max_length=400)] = None,
    days: Annotated[int, Query(ge=1, le=90)] = 14,
) -> dict[str, Any]:
    store = store_of(request)
    get_table(store, table_id)
    key = (metric, column or "", segment or "")
    if key not in {(m, c, s) for m, c, s, _ in bands.series_keys(store, table_id)}:
        raise HTTPException(
            404,
            f"table {table_id} has no series {metric!r}"
            + (f" for column {column!r}" if column else ""),
        )
    series = bands.banded(
        store,
        table_id,
        [key],
        clock_of(request).now(),
        display=timedelta(days=days),
        project=project_of(request),
    )
    return series[0].as_dict()


# --------------------------------------------------------------------------- monitors


@router.get("/monitors", summary="Monitors, per table when table_id is given")
def list_monitors(
    request: Request,
    table_id: QueryId = None,
) -> list[dict[str, Any]]:
    store, project = store_of(request), project_of(request)
    if table_id is not None:
        t = get_table(store, table_id)
        return [
            {"table": t.ref.fqn, "table_id": t.id, **m} for m in monitors_for(project, store, t)
        ]
    out = [
        {
            "table": None,
            "table_id": r["table_id"],
            "name": r["name"],
            "kind": r["kind"],
            "column": None,
            "source": r["source"],
            "enabled": r["enabled"],
            "detail": r["config"],
        }
        for r in stored_monitors.rows(store)
    ]
    out += [
        {
            "table": None,
            "table_id": None,
            "name": f"custom · {cm.name}",
            "kind": "custom",
            "column": None,
            "source": "config",
            "enabled": True,
            "detail": cm.sql,
        }
        for cm in project.metrics
    ]
    return out


# --------------------------------------------------------------------------- alerts


@router.get("/alerts", summary="Alerts, newest data first", response_model=Obj)
@quick_read
def list_alerts(
    request: Request,
    limit: Limit = 50,
    offset: Offset = 0,
    table_id: QueryId = None,
    kind: Annotated[str | None, Query(pattern=NO_NUL, max_length=40)] = None,
    severity: Severity | None = None,
    feedback: Annotated[
        Literal["expected", "false_positive", "fixed", "none"] | None,
        Query(description="a feedback value, or `none` for alerts nobody reviewed"),
    ] = None,
    incident_id: QueryId = None,
    since: Annotated[datetime | None, Query(description="detected at or after (ISO-8601)")] = None,
) -> Response:
    flt = browse.AlertFilter(
        table_id=table_id,
        kind=kind,
        severity=severity.value if severity else None,
        feedback=feedback,
        incident_id=incident_id,
        since=since,
    )
    with store_of(request).engine.connect() as c:
        rows, total = reads.alert_page(c, flt.conditions(), limit, offset, memo=memo_of(request))
    return json_response(page([alert_json(a) for a in rows], total, limit, offset))


@router.get("/alerts/{alert_id}", summary="One alert with its explanation", response_model=Obj)
@quick_read
def alert_detail(request: Request, alert_id: Id) -> Response:
    a = browse.get_alert(store_of(request), alert_id)
    if a is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    return json_response(alert_json(a))


@router.post(
    "/alerts/{alert_id}/feedback",
    summary="Tell the detector what an alert was",
    dependencies=writes,
    responses=WRITE_PROBLEM,
)
def alert_feedback(request: Request, alert_id: Id, body: FeedbackIn) -> dict[str, Any]:
    store = store_of(request)
    who: Principal = request.state.principal
    try:
        store.alerts.set_feedback(alert_id, body.value, clock_of(request).now(), actor=who.name)
    except KeyError:
        raise HTTPException(404, f"no alert with id {alert_id}") from None
    a = browse.get_alert(store, alert_id)
    assert a is not None
    return alert_json(a)


# --------------------------------------------------------------------------- incidents


@router.get("/incidents", summary="Incidents, newest first", response_model=Obj)
@quick_read
def list_incidents(
    request: Request,
    limit: Limit = 50,
    offset: Offset = 0,
    status: Annotated[list[IncidentStatus] | None, Query(description="repeatable")] = None,
    open_only: Annotated[bool, Query(alias="open", description="only open ones")] = False,
    severity: Severity | None = None,
    table_id: QueryId = None,
) -> Response:
    statuses = [s.value for s in status or []]
    if open_only:
        statuses = statuses or list(browse.OPEN_STATUSES)
    flt = browse.IncidentFilter(
        status=statuses, severity=severity.value if severity else None, table_id=table_id
    )
    rows, total = browse.list_incidents(store_of(request), flt, limit=limit, offset=offset)
    return json_response(page([incident_json(i) for i in rows], total, limit, offset))


def get_incident(store: Store, incident_id: int) -> dict[str, Any]:
    inc = browse.get_incident(store, incident_id)
    if inc is None:
        raise HTTPException(404, f"no incident with id {incident_id}")
    return inc


@router.get(
    "/incidents/{incident_id}", summary="One incident with timeline and impact", response_model=Obj
)
@quick_read
def incident_detail(request: Request, incident_id: Id) -> Response:
    return json_response(incident_json(get_incident(store_of(request), incident_id)))


@router.post(
    "/incidents/{incident_id}/status",
    summary="Change an incident's status",
    dependencies=writes,
    responses=WRITE_PROBLEM,
)
def incident_status(request: Request, incident_id: Id, body: StatusIn) -> dict[str, Any]:
    store = store_of(request)
    get_incident(store, incident_id)
    who: Principal = request.state.principal
    set_incident_status(
        request.app.state.project,
        store,
        incident_id,
        body.status,
        clock_of(request).now(),
        note=body.note,
        actor=who.name,
    )
    return incident_json(get_incident(store, incident_id))


@router.post(
    "/incidents/{incident_id}/notes",
    summary="Add a note to the timeline",
    dependencies=writes,
    status_code=201,
    responses=WRITE_PROBLEM,
)
def incident_note(request: Request, incident_id: Id, body: NoteIn) -> dict[str, Any]:
    store = store_of(request)
    get_incident(store, incident_id)
    who: Principal = request.state.principal
    now = clock_of(request).now()
    store.incidents.add_event(incident_id, "note", body.text, now, actor=who.name)
    store.incidents.update(incident_id, now)
    return incident_json(get_incident(store, incident_id))


# --------------------------------------------------------------------------- lineage


def graph_of(store: Store) -> LineageGraph:
    graph = load_graph(store)
    if graph is None:
        raise HTTPException(404, "no lineage yet: run `tidegauge run` to build it")
    return graph


@router.get("/lineage/{direction}", summary="Upstream or downstream of a table or column")
def lineage(
    request: Request,
    direction: Literal["upstream", "downstream"],
    node: Annotated[
        str,
        Query(
            pattern=NO_NUL,
            min_length=1,
            max_length=400,
            description="schema.table, a dbt unique_id or a bare name",
        ),
    ],
    column: Annotated[str | None, Query(pattern=NO_NUL, max_length=400)] = None,
    depth: Annotated[int | None, Query(ge=1, le=50)] = None,
) -> dict[str, Any]:
    graph = graph_of(store_of(request))
    try:
        walk = graph.upstream if direction == "upstream" else graph.downstream
        return walk(node, column, depth).as_dict()
    except UnknownNodeError as e:
        raise HTTPException(404, {"message": str(e), "candidates": list(e.candidates)}) from None
    except AmbiguousNodeError as e:
        raise HTTPException(422, {"message": str(e), "candidates": list(e.candidates)}) from None


@router.get("/impact", summary="Who and what is hit downstream of a table or column")
def impact(
    request: Request,
    node: Annotated[str, Query(pattern=NO_NUL, min_length=1, max_length=400)],
    column: Annotated[str | None, Query(pattern=NO_NUL, max_length=400)] = None,
) -> dict[str, Any]:
    graph = graph_of(store_of(request))
    try:
        return graph.impact(node, column).as_dict()
    except UnknownNodeError as e:
        raise HTTPException(404, {"message": str(e), "candidates": list(e.candidates)}) from None
    except AmbiguousNodeError as e:
        raise HTTPException(422, {"message": str(e), "candidates": list(e.candidates)}) from None


# --------------------------------------------------------------------------- runs


@router.get("/runs", summary="Recent monitoring runs, newest first")
@quick_read
def runs(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[Any]:
    return store_of(request).runs(limit=limit)


@router.get("/runs/{run_id}", summary="One run with its per-table results")
@quick_read
def run_detail(request: Request, run_id: Id) -> dict[str, Any]:
    store = store_of(request)
    run = browse.get_run(store, run_id)
    if run is None:
        raise HTTPException(404, f"no run with id {run_id}")
    run["tables"] = store.run_tables(run_id)
    return run

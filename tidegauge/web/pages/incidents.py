"""Alerts and incidents: lists, an incident's page (chart, blast radius, timeline), and the
forms that give feedback, change status and add notes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidegauge.core.model import Feedback, IncidentStatus
from tidegauge.steps.notify import set_incident_status
from tidegauge.store import browse
from tidegauge.web import bands
from tidegauge.web.charts import metric_chart
from tidegauge.web.deps import MAX_OFFSET, Principal, clock_of, project_of, safe_next, store_of
from tidegauge.web.pages.lineage import incident_graph
from tidegauge.web.pages.render import READ, WRITE, PageId, back, label, paging, render
from tidegauge.web.pages.tables import chart_title

router = APIRouter(include_in_schema=False)

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
    rows, total = browse.list_alerts(
        store_of(request),
        browse.AlertFilter(feedback=feedback, kind=kind),
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
    a = browse.get_alert(store_of(request), alert_id)
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
        "open": list(browse.OPEN_STATUSES),
        "closed": [s.value for s in IncidentStatus if not s.is_open],
        "all": [],
    }[state]
    rows, total = browse.list_incidents(
        store_of(request), browse.IncidentFilter(status=statuses), limit=limit, offset=offset
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
    inc = browse.get_incident(store, incident_id)
    if inc is None:
        raise HTTPException(404, f"There is no incident with id {incident_id}.")
    now = clock_of(request).now()
    alerts, _ = browse.list_alerts(
        store, browse.AlertFilter(incident_id=incident_id), limit=200, count=False
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
        have = {(m, c, s) for m, c, s, _ in bands.series_keys(store, inc["table_id"])}
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
    if browse.get_incident(store, incident_id) is None:
        raise HTTPException(404, f"There is no incident with id {incident_id}.")
    who: Principal = request.state.principal
    now = clock_of(request).now()
    store.incidents.add_event(incident_id, "note", text.strip(), now, actor=who.name)
    store.incidents.update(incident_id, now)
    return back(f"/incidents/{incident_id}#timeline", "Note added.")

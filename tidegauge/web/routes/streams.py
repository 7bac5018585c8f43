"""Streams in the web app: ``/api/v1/streams`` (JSON) and the ``/streams`` pages.

The overview shows a card per stream through the ``stream_cards`` template global this
module registers, so the overview page needs no code of its own for streams.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, Response

from tidegauge.core.catalogue import spec
from tidegauge.store.store import Store
from tidegauge.streams import metrics as M
from tidegauge.streams.views import streams_summary
from tidegauge.web.api import NO_NUL, PROBLEM
from tidegauge.web.charts import ChartData, metric_chart
from tidegauge.web.deps import clock_of, project_of, require_read, store_of
from tidegauge.web.pages import render, templates

router = APIRouter(dependencies=[Depends(require_read)])

#: how far back the topic page's charts look
CHART_HOURS = 24
#: the metrics the topic page names, titled by the metric catalogue
TITLED = (
    M.MESSAGES,
    M.PARTITIONS,
    M.SKEW,
    M.LAG,
    M.LAG_SECONDS,
    M.RATE,
    M.MEMBERS,
    M.STATUS,
    M.LAST_MESSAGE,
    M.PARSE_FAILURES,
)


def _topic(request: Request, stream: str, topic: str) -> dict[str, Any]:
    project = project_of(request)
    for s in streams_summary(project, store_of(request), clock_of(request).now()):
        if s["name"] != stream:
            continue
        for t in s["topics"]:
            if t["topic"] == topic:
                return {**t, "stream": stream, "namespace": s["namespace"]}
    raise HTTPException(404, f"no topic {topic!r} in stream {stream!r}")


def _series(
    store: Store, table_id: int, since: datetime, metric: str, column: str | None = None
) -> list[tuple[datetime, float | None]]:
    pts = store.points(table_id, metric=metric, since=since, unsegmented=True)
    return [(p.bucket_start, p.value) for p in pts if p.column == column and p.bucket_seconds]


def topic_detail(request: Request, stream: str, topic: str, hours: int) -> dict[str, Any]:
    t = _topic(request, stream, topic)
    store = store_of(request)
    since = clock_of(request).now() - timedelta(hours=hours)
    t["messages"] = [
        {"bucket_start": b, "value": v} for b, v in _series(store, t["table_id"], since, M.MESSAGES)
    ]
    t["lag"] = {
        g["group"]: [
            {"bucket_start": b, "messages": v}
            for b, v in _series(store, t["table_id"], since, M.LAG, g["group"])
        ]
        for g in t["groups"]
    }
    t["lag_seconds"] = {
        g["group"]: [
            {"bucket_start": b, "seconds": v}
            for b, v in _series(store, t["table_id"], since, M.LAG_SECONDS, g["group"])
        ]
        for g in t["groups"]
    }
    return t


@router.get(
    "/api/v1/streams", summary="Streams, their topics and consumer groups", responses=PROBLEM
)
def api_streams(request: Request) -> list[dict[str, Any]]:
    return streams_summary(project_of(request), store_of(request), clock_of(request).now())


@router.get(
    "/api/v1/streams/{stream}/topics/{topic}",
    summary="One topic: throughput, consumer lag per group and the payload schema",
    responses=PROBLEM,
)
def api_topic(
    request: Request,
    stream: Annotated[str, FastPath(pattern=NO_NUL)],
    topic: Annotated[str, FastPath(pattern=NO_NUL)],
    hours: int = Query(CHART_HOURS, ge=1, le=24 * 14, description="history to return"),
) -> dict[str, Any]:
    return topic_detail(request, stream, topic, hours)


@router.get("/streams", response_class=HTMLResponse, include_in_schema=False)
def streams_page(request: Request) -> Response:
    data = streams_summary(project_of(request), store_of(request), clock_of(request).now())
    titles = {m: spec(m).title for m in TITLED}
    return render(request, "streams.html", {"streams": data, "titles": titles, "active": "streams"})


@router.get("/streams/{stream}/{topic}", response_class=HTMLResponse, include_in_schema=False)
def topic_page(request: Request, stream: str, topic: str) -> Response:
    t = topic_detail(request, stream, topic, CHART_HOURS)
    titles = {m: spec(m).title for m in TITLED}
    throughput = metric_chart(
        ChartData([p["bucket_start"] for p in t["messages"]], [p["value"] for p in t["messages"]]),
        metric=M.MESSAGES,
        title=f"{titles[M.MESSAGES]} on {topic}",
    )
    lag_charts = {
        g: metric_chart(
            ChartData([p["bucket_start"] for p in pts], [p["seconds"] for p in pts]),
            metric=M.LAG_SECONDS,
            title=f"{titles[M.LAG_SECONDS]} of {g}",
        )
        for g, pts in t["lag_seconds"].items()
    }
    return render(
        request,
        "streams_topic.html",
        {
            "t": t,
            "titles": titles,
            "throughput": throughput,
            "lag_charts": lag_charts,
            "active": "streams",
        },
    )


def stream_cards(request: Request) -> list[dict[str, Any]]:
    """Per stream: topics, topics with a consumer problem, last error (for the overview)."""
    project = project_of(request)
    if not project.streams:
        return []
    out = []
    for s in streams_summary(project, store_of(request), clock_of(request).now()):
        topics = [t for t in s["topics"] if not t["dropped"]]
        troubled = [t for t in topics if any(g["status"] != "ok" for g in t["groups"])]
        out.append(
            {
                "name": s["name"],
                "error": s["error"],
                "topics": len(topics),
                "troubled": [t["topic"] for t in troubled],
                "rate": sum(t["rate_per_second"] or 0 for t in topics),
            }
        )
    return out


templates.env.globals["stream_cards"] = stream_cards

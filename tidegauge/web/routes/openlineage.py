"""``POST /api/v1/lineage``: receive OpenLineage events over the HTTP transport.

RunEvents and the static-lineage JobEvents and DatasetEvents (spec 2-0-2) are all accepted
and recorded the same way; a 400 names the event type and the field at fault.

The body is validated before anything is stored: non-JSON or a missing required field gives
HTTP 400 with the reason. Valid events go to ``request.app.state.lineage_recorder`` (any
:class:`~tidegauge.integrations.openlineage.LineageRecorder`); a duplicate (same run, event
type and time) is acknowledged with 200 and not recorded again.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from tidegauge.integrations.openlineage import InvalidEvent, LineageRecorder, parse_event

router = APIRouter(tags=["lineage"])

MAX_BODY_BYTES = 16 * 1024 * 1024


@router.post(
    "/api/v1/lineage",
    status_code=201,
    summary="Record an OpenLineage RunEvent, JobEvent or DatasetEvent",
    responses={
        400: {
            "description": "not JSON, too deeply nested, or not a valid event "
            "(its type and the field at fault are named)"
        },
        413: {"description": "body (or its decompressed form) larger than 16 MiB"},
        415: {"description": "not Content-Type: application/json"},
    },
)
async def post_lineage(request: Request) -> JSONResponse:
    recorder: LineageRecorder | None = getattr(request.app.state, "lineage_recorder", None)
    if recorder is None:
        raise HTTPException(503, "no lineage recorder configured")
    # the request guard (tidegauge.web.guard) has inflated a gzip/deflate body in a stream
    # capped at the limit, so the body here is plain and bounded
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, "event larger than 16 MiB")
    try:
        event = parse_event(body)
    except InvalidEvent as exc:
        raise HTTPException(400, exc.reason) from exc
    created = recorder.record(event)
    return JSONResponse(
        {"status": "recorded" if created else "duplicate", "key": event.key},
        status_code=201 if created else 200,
    )

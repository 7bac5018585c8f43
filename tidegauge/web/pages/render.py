"""What every page shares: the templates and their filters, ``render``, error pages, the
flash message after a post, paging links, and the dependencies pages declare."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Depends, Request
from fastapi import Path as FastApiPath
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from tidegauge.core.model import Feedback, IncidentStatus
from tidegauge.web import undelivered
from tidegauge.web.charts import format_value, unit_of
from tidegauge.web.deps import (
    MAX_ID,
    Principal,
    auth_enabled,
    clock_of,
    csrf_token,
    principal_of,
    project_of,
    require_admin,
    require_read,
    set_csrf_cookie,
    verify_csrf,
)

TEMPLATES = Path(__file__).parent.parent / "templates"
#: ids in page paths are bounded like the API's: a number past 64 bits is a 422, not a 500
PageId = Annotated[int, FastApiPath(ge=1, le=MAX_ID)]
FLASH_COOKIE = "tidegauge_flash"

templates = Jinja2Templates(directory=str(TEMPLATES))
READ = [Depends(require_read)]
WRITE = [Depends(require_admin), Depends(verify_csrf)]

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

"""Server-rendered pages: overview, tables, incidents, alerts, lineage explorer and search.

Every form posts with a CSRF token and redirects back (post/redirect/get), leaving a short
flash message; a read-only token sees the buttons disabled with the reason. Templates are
Jinja2 with autoescaping; charts and graphs are SVG built in :mod:`tidegauge.web.charts` and
:mod:`tidegauge.web.graph_svg`.

One module per family of pages, each with its own router: :mod:`.overview` (sign-in, the
overview, search, ``/healthz``), :mod:`.tables`, :mod:`.incidents` (alerts and incidents),
:mod:`.lineage`; what they share (templates, filters, ``render``, ``error_page``, flash
messages, paging) is in :mod:`.render`. To add a page: a route on the family's router
rendering a template that extends ``base.html``.
"""

from __future__ import annotations

from fastapi import APIRouter

from tidegauge.web.pages import incidents, lineage, overview, tables
from tidegauge.web.pages.render import error_page, render, templates
from tidegauge.web.pages.tables import chart_title

router = APIRouter(include_in_schema=False)
for family in (overview, tables, incidents, lineage):
    router.include_router(family.router)

__all__ = ["chart_title", "error_page", "render", "router", "templates"]

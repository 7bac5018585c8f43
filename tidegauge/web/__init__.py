"""The web UI and REST API (``tidegauge serve``): one FastAPI app, no JavaScript build.

- :mod:`~tidegauge.web.server`: ``create_app(project, store)``, security headers, error pages,
  ``serve_blocking`` (uvicorn + :mod:`~tidegauge.web.scheduler`).
- :mod:`~tidegauge.web.api`: JSON under ``/api/v1`` (OpenAPI at ``/openapi.json``).
- :mod:`~tidegauge.web.pages` + ``templates/``: server-rendered pages, one module per family
  (overview, tables, incidents, lineage); charts from
  :mod:`~tidegauge.web.charts`, lineage graphs from :mod:`~tidegauge.web.graph_svg`, bands from
  :mod:`~tidegauge.web.bands`.
- :mod:`~tidegauge.web.deps`: tokens (read/admin), CSRF, ``quick_read``;
  :mod:`~tidegauge.web.routes`: routers owned by integrations. The web reads the store only
  through its repositories: :mod:`tidegauge.store.browse` (read-only aggregate queries) and
  :mod:`tidegauge.store.reads` (the hot reads as prebuilt statements).
- :mod:`~tidegauge.web.cache` + :mod:`~tidegauge.web.generation`: read-API answers kept until
  the next write to the store, whoever writes; values kept until the next run (``RunCache``).

To add a page: a route on its family's router in ``pages/`` rendering a template that
extends ``base.html``; to add an endpoint: a route on ``api.router`` (reads are authorised by
the router, writes take ``dependencies=writes``). A GET under ``/api/v1`` is cached until the
store changes: it must not write, and if its answer depends on the clock its path must be in
``cache.CLOCK_DEPENDENT``.
"""

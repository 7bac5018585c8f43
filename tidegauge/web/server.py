"""The web application: REST API, pages and static files in one FastAPI app.

:func:`create_app` wires the routers, security headers, auth and error pages;
:func:`serve_blocking` runs it under uvicorn with the scheduler beside it (``tidegauge serve``
and the end of ``tidegauge demo``).

Errors never show a traceback: API paths answer JSON (``{"detail": ...}``), pages answer an
HTML page that says what to do next.
"""

from __future__ import annotations

import base64
import gc
import logging
import os
import pickle
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.integrations.openlineage import LineageRecorder
from tidegauge.store.store import Store
from tidegauge.web import api, pages
from tidegauge.web import generation as store_generation
from tidegauge.web.cache import ApiCacheMiddleware, ResponseCache
from tidegauge.web.deps import AuthError, CsrfError, require_admin
from tidegauge.web.guard import RequestGuardMiddleware, allowed_hosts
from tidegauge.web.ratelimit import RateLimitMiddleware, TokenBucket
from tidegauge.web.routes import openlineage

log = logging.getLogger("tidegauge.web")

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS:
                    if k.decode() not in headers:
                        headers.append(k.decode(), v.decode())
                if not static and "cache-control" not in headers:
                    headers.append("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def create_app(
    project: Project,
    store: Store,
    *,
    clock: Clock | None = None,
    lineage_recorder: LineageRecorder | None = None,
    ingest_rate: tuple[float, int] = (20.0, 200),
    response_cache: bool = True,
    cache_max_age: float = 10.0,
    threads: int | None = None,
    hosts: Iterable[str] = (),
    login_rate: tuple[float, int] = (0.2, 10),
) -> FastAPI:
    """The app for ``project`` reading and writing ``store``.

    ``ingest_rate`` is (events per second, burst) per client on the OpenLineage ingest.
    ``response_cache`` keeps read-API answers until the next write to the store
    (:mod:`tidegauge.web.cache`); ``cache_max_age`` bounds those that also depend on the clock.
    ``threads`` caps the threads running request handlers (default: the store's connection
    pool size, so requests never wait for, or churn, connections beyond it).
    ``hosts`` are Host names answered besides ``web.base_url``'s and loopback's
    (:mod:`tidegauge.web.guard`); ``login_rate`` throttles ``POST /login`` per client.
    """
    generation = store_generation.for_engine(store.engine) if response_cache else None
    workers = threads or _pool_size(store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = workers
        try:
            yield
        finally:
            if generation is not None:
                generation.close()

    app = FastAPI(
        lifespan=lifespan,
        title="tidegauge",
        summary="Data observability: tables, metrics with expected bands, alerts, incidents, "
        "lineage.",
        version="1",
        docs_url=None,  # Swagger UI needs inline script and a CDN; our CSP allows neither
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.project = project
    app.state.store = store
    app.state.clock = clock or Clock()
    # POST /api/v1/lineage hands OpenLineage events to this recorder (the store by default)
    if lineage_recorder is None:
        from tidegauge.integrations.openlineage_recorder import StoreLineageRecorder

        lineage_recorder = StoreLineageRecorder(store)
    app.state.lineage_recorder = lineage_recorder

    app.include_router(api.router)
    # the ingest writes to the store: an admin token when tokens are configured
    app.include_router(openlineage.router, dependencies=[Depends(require_admin)])
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.response_cache = ResponseCache(max_age=cache_max_age)
    app.add_middleware(ApiCacheMiddleware, cache=app.state.response_cache, generation=generation)
    app.add_middleware(
        RequestGuardMiddleware, hosts=allowed_hosts(project.web.base_url, extra=hosts)
    )
    # outside the guard: a flood is turned away before its body is read
    app.add_middleware(RateLimitMiddleware, bucket=TokenBucket(*ingest_rate))
    app.add_middleware(
        RateLimitMiddleware, bucket=TokenBucket(*login_rate), paths=("/login",), methods=("POST",)
    )
    app.add_middleware(SecurityHeadersMiddleware)
    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return JSONResponse(
                {"detail": exc.detail},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        message = exc.detail if isinstance(exc.detail, str) else "Something is not right."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no page at this address."
        return pages.error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_api(request):
            return await request_validation_exception_handler(request, exc)
        reasons = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'input'}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return pages.error_page(request, 422, "Some of the input was not valid.", reasons)

    @app.exception_handler(AuthError)
    async def unauthorised(request: Request, exc: AuthError) -> Response:
        if is_api(request):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)
        if exc.status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return pages.error_page(
            request,
            403,
            "Your token can read but not change things. Sign in with an admin token to do this.",
        )

    @app.exception_handler(CsrfError)
    async def csrf(request: Request, exc: CsrfError) -> Response:
        return pages.error_page(request, 403, str(exc))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        from sqlalchemy.exc import DBAPIError

        if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or _unreachable(exc):
            # the store is down or restarting: say so, and when to come back
            log.warning("store unavailable serving %s: %s", request.url.path, type(exc).__name__)
            if is_api(request):
                return JSONResponse(
                    {"detail": "the metadata store is unavailable; retry soon"},
                    status_code=503,
                    headers={"Retry-After": "5"},
                )
            return pages.error_page(
                request,
                503,
                "The metadata store is unavailable right "
                "now. This page will work again once it is back.",
            )
        log.exception("error serving %s %s", request.method, request.url.path)
        if is_api(request):
            return JSONResponse(
                {"detail": "internal error; the server log has the details"}, status_code=500
            )
        return pages.error_page(
            request, 500, "Something went wrong on our side. The server log has the details."
        )


def _pool_size(store: Store) -> int:
    size = getattr(store.engine.pool, "size", None)
    return max(2, int(size())) if callable(size) else 4


def _unreachable(exc: Exception) -> bool:
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)


WORKER_ENV = "TIDEGAUGE_WEB_WORKER"


def serve_blocking(
    project: Project,
    store: Store,
    host: str,
    port: int,
    scheduler: bool,
    workers: int = 1,
    **uvicorn_options: Any,
) -> None:
    """Serve the UI and API until interrupted; run monitors on schedule unless disabled.

    With ``workers`` > 1, uvicorn starts that many processes, each with its own app, store
    connections and response cache, all reading the same store; monitors then run only in
    this supervising process, never in a worker, so one run happens per tick.
    """
    import uvicorn

    from tidegauge.web.scheduler import Scheduler

    options: dict[str, Any] = {"log_level": "warning", **uvicorn_options}
    if workers > 1:
        os.environ[WORKER_ENV] = base64.b64encode(
            pickle.dumps((project, store.engine.url.render_as_string(hide_password=False), host))
        ).decode()
        target: Any = "tidegauge.web.server:worker_app"
        options.update(factory=True, workers=workers)
    else:
        target = create_app(project, store, hosts=[host])
    sched = Scheduler(project, store) if scheduler else None
    if sched is not None:
        sched.start()
    if workers <= 1:
        settle_heap()
    try:
        uvicorn.run(target, host=host, port=port, **options)
    finally:
        if sched is not None:
            sched.stop()


def worker_app() -> FastAPI:
    """The app of one uvicorn worker process (``serve --workers N``): the project and store
    the supervising process was started with, handed over in the environment."""
    from tidegauge.store.store import Store

    payload = os.environ.get(WORKER_ENV)
    if not payload:
        raise RuntimeError(f"{WORKER_ENV} is not set: start workers with `tidegauge serve`")
    project, url, host = pickle.loads(base64.b64decode(payload))  # written by serve_blocking
    app = create_app(project, Store.open(url, migrate_schema=False), hosts=[host])
    settle_heap()
    return app


def settle_heap() -> None:
    """Before serving: move what start-up built (modules, the app, ~150,000 objects) out of
    the cyclic GC's sight, so a full collection while serving scans only what requests
    created. Measured on this 2-core machine under load: a full collection of a fresh
    server heap took 0.5 s, after this about nothing (a p99 spike either way otherwise)."""
    gc.collect()
    gc.freeze()

"""What every route needs: the project, the store, the clock, who is asking, and CSRF checks.

Auth is off when ``web.read_tokens`` and ``web.admin_tokens`` are both empty (a local
install: everyone is admin). Otherwise a request carries a token as ``Authorization: Bearer``
(API clients) or in the ``tidegauge_token`` cookie set by ``/login`` (browsers). Read tokens may
GET; writes need an admin token.

Forms posted by pages carry a CSRF token that must equal the ``tidegauge_csrf`` cookie
(double submit); the cookie is ``SameSite=Strict`` and ``HttpOnly``, and a cross-site ``Origin``
is refused outright. JSON API writes need ``Content-Type: application/json``, which a
cross-site form cannot send without a CORS preflight that this server never grants.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import Request, Response

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.store.store import Store

#: the largest id or offset a request may name: the store's ids are 64-bit, and a larger
#: number would overflow the driver (a 500) instead of simply finding nothing (a 404)
MAX_ID = 2**63 - 1
#: the largest ``offset``: far past any real list, and within what every store's
#: LIMIT/OFFSET arithmetic takes (PostgreSQL overflows on offsets near 2**63)
MAX_OFFSET = 2**31 - 1

TOKEN_COOKIE = "tidegauge_token"
CSRF_COOKIE = "tidegauge_csrf"
CSRF_FIELD = "csrf_token"


class AuthError(Exception):
    """401 (no or unknown token) or 403 (read token on a write); rendered per surface."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CsrfError(Exception):
    """A form post without a matching CSRF token, or from another origin."""


@dataclass(frozen=True)
class Principal:
    scope: str  # "admin" | "read"
    name: str  # who, for timelines: never the token itself

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"


def project_of(request: Request) -> Project:
    return request.app.state.project  # type: ignore[no-any-return]


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def clock_of(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


P = ParamSpec("P")
R = TypeVar("R")


def quick_read(handler: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """For route handlers whose work is a few indexed reads (a page of ids, rows by id).

    On a SQLite store the handler runs on the event loop: handing it to a worker thread
    costs more than the reads, and a busy worker thread holding the GIL delays the loop's
    sockets by up to a switch interval. On a networked store it runs in a worker thread as
    a plain ``def`` route would. The handler must take ``request: Request`` by keyword.
    """

    @functools.wraps(handler)
    async def route(*args: P.args, **kwargs: P.kwargs) -> R:
        request = kwargs["request"]
        assert isinstance(request, Request)
        if store_of(request).dialect == "sqlite":
            return handler(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(handler, *args, **kwargs))

    return route


def auth_enabled(project: Project) -> bool:
    return bool(project.web.read_tokens or project.web.admin_tokens)


def _match(token: str, candidates: list[str]) -> int | None:
    found = None
    for i, c in enumerate(candidates):  # compare with every token: no early exit
        if c and hmac.compare_digest(token.encode(), c.encode()):
            found = i
    return found


def token_matches(token: str, candidates: list[str]) -> bool:
    return _match(token, candidates) is not None


def principal_of(request: Request) -> Principal | None:
    project = project_of(request)
    if not auth_enabled(project):
        return Principal("admin", "web")
    token = None
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
    if not token:
        token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        return None
    i = _match(token, project.web.admin_tokens)
    if i is not None:
        return Principal("admin", f"admin-token-{i + 1}")
    i = _match(token, project.web.read_tokens)
    if i is not None:
        return Principal("read", f"read-token-{i + 1}")
    return None


async def require_read(request: Request) -> Principal:
    """Dependency: a read or admin token (async: no I/O, so no thread hop per request)."""
    p = principal_of(request)
    if p is None:
        raise AuthError(401, "a token is required: Authorization: Bearer <token>")
    request.state.principal = p
    return p


async def require_admin(request: Request) -> Principal:
    p = await require_read(request)
    if not p.is_admin:
        raise AuthError(403, "this action needs an admin token")
    return p


# --------------------------------------------------------------------------- CSRF


def csrf_token(request: Request) -> str:
    """The token for forms on this page (the cookie's, or a new one set by :func:`render`)."""
    existing = getattr(request.state, "csrf", None)
    if existing:
        return str(existing)
    token = request.cookies.get(CSRF_COOKIE) or ""
    if len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = True
    request.state.csrf = token
    return token


def set_csrf_cookie(request: Request, response: Response) -> None:
    if getattr(request.state, "new_csrf", False):
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def verify_csrf(request: Request) -> None:
    """Dependency for form posts: same origin and the double-submit token must match."""
    if not same_origin(request):
        raise CsrfError("cross-site form post refused")
    form = await request.form()
    sent: Any = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if (
        not isinstance(sent, str)
        or not cookie
        or not hmac.compare_digest(sent.encode(), cookie.encode())
    ):
        raise CsrfError("missing or stale form token; reload the page and try again")


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths are valid redirect targets."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target

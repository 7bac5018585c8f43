"""A per-client token bucket for write endpoints that take machine traffic (the ingest).

Each client has a bucket of
``burst`` tokens refilled at ``rate`` per second; a request takes one token or is answered
``429 Too Many Requests`` with ``Retry-After``. A client is its peer address, or its
bearer token once that token is verified as one of ``web``'s tokens: a presented token
that is not verified never opens a fresh bucket, so rotating made-up tokens does not get
around the limit. In memory, per process: enough to stop a runaway emitter from flooding
one server (or guessing tokens at ``/login``); not a distributed quota.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class TokenBucket:
    """``rate`` tokens per second up to ``burst``, per key.

    >>> b = TokenBucket(rate=1.0, burst=2, clock=lambda: 0.0)
    >>> [b.take("a") for _ in range(3)]
    [0.0, 0.0, 1.0]
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is available."""
        now = self._clock()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                if len(self._buckets) >= self.max_clients:
                    self._evict(now)
                b = self._buckets[key] = _Bucket(float(self.burst), now)
            b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate)
            b.at = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / self.rate

    def _evict(self, now: float) -> None:
        full = [
            k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst
        ]
        for k in full or list(self._buckets)[: max(1, len(self._buckets) // 10)]:
            del self._buckets[k]


def client_key(scope: Scope, verified: Callable[[str], bool] | None = None) -> str:
    """A verified bearer token (hashed: never kept in memory as is), else the peer address."""
    if verified is not None:
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                token = value[7:].strip()
                if verified(token.decode("latin-1")):
                    return "t:" + hashlib.sha256(token).hexdigest()[:32]
    client = scope.get("client")
    return f"a:{client[0]}" if client else "a:unknown"


def _verifier(scope: Scope) -> Callable[[str], bool] | None:
    """Checks a token against the app's configured tokens (None when there are none)."""
    app = scope.get("app")
    project = getattr(getattr(app, "state", None), "project", None)
    web = getattr(project, "web", None)
    if web is None:
        return None
    tokens = [*web.admin_tokens, *web.read_tokens]
    if not tokens:
        return None
    from tidegauge.web.deps import token_matches

    return lambda token: token_matches(token, tokens)


class RateLimitMiddleware:
    """Applies ``bucket`` to requests whose method and path prefix match (pure ASGI)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        bucket: TokenBucket,
        paths: Iterable[str] = ("/api/v1/lineage",),
        methods: Iterable[str] = ("POST", "PUT"),
    ) -> None:
        self.app = app
        self.bucket = bucket
        self.paths = tuple(paths)
        self.methods = frozenset(methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in self.methods
            or not scope["path"].startswith(self.paths)
        ):
            await self.app(scope, receive, send)
            return
        wait = self.bucket.take(client_key(scope, _verifier(scope)))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        body = b'{"detail":"too many requests: slow down and retry later"}'
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", str(max(1, math.ceil(wait))).encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

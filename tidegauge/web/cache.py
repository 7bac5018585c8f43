"""A response cache for the read API, keyed on the store's generation.

``GET /api/v1/...`` answers are kept as bytes under (path, query string) for the store
generation they were computed at (:mod:`tidegauge.web.generation`). Every request reads the
generation first (microseconds on SQLite); when anyone has committed a write since, the cache
starts over, so a status change, feedback or a new run shows in the very next response.

Routes whose answer also depends on the clock (table health counts alerts of the last 24
hours; metric history shows a window ending now) keep an answer at most ``max_age`` seconds.
Only 200 answers without cookies are kept; errors, 404s and 422s always go to the app. Auth
is checked before the cache is looked at: a request the app would refuse is handed to it.

Concurrent misses of one key wait for the first instead of computing it again. Pure ASGI and
in memory, per process: each worker has its own, bounded by ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidegauge.store.browse import run_marker
from tidegauge.store.store import Store
from tidegauge.web.deps import principal_of
from tidegauge.web.generation import Generation

PREFIX = "/api/v1/"
CLOCK_DEPENDENT = ("/api/v1/tables",)
MAX_BODY = 4 * 1024 * 1024  # bigger answers are not worth keeping
STATE_KEY = "tidegauge.generation"  # where a request finds the generation it was served at

V = TypeVar("V")
K = TypeVar("K", bound=tuple[Any, ...])


@dataclass(frozen=True, slots=True)
class Entry:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    at: float

    @property
    def size(self) -> int:
        return len(self.body) + 64 * len(self.headers) + 200


class ResponseCache:
    """Entries of one generation, least recently used dropped first beyond ``max_bytes``.

    Besides whole responses it keeps small values handlers derive from the store (how many
    live tables there are, say) under the same rule: :meth:`memo`.
    """

    def __init__(
        self,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        max_age: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.clock = clock
        self._generation: Hashable | None = None
        self._entries: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self._values: dict[Hashable, Any] = {}
        self._bytes = 0
        self._lock = threading.Lock()  # handlers call memo() from worker threads
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _advance(self, generation: Hashable) -> None:
        if generation != self._generation:
            self._entries.clear()
            self._values.clear()
            self._bytes = 0
            self._generation = generation

    def get(
        self, generation: Hashable, key: tuple[str, bytes], max_age: float | None
    ) -> Entry | None:
        with self._lock:
            self._advance(generation)
            e = self._entries.get(key)
            if e is not None and max_age is not None and self.clock() - e.at > max_age:
                self._drop(key)
                e = None
            if e is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return e

    def put(self, generation: Hashable, key: tuple[str, bytes], entry: Entry) -> None:
        with self._lock:
            if generation != self._generation or entry.size > self.max_bytes:
                return  # computed before a write that has since been seen: never keep it
            self._drop(key)
            self._entries[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def memo(self, generation: Hashable | None, key: Hashable, compute: Callable[[], V]) -> V:
        """``compute()``, kept until the store's generation moves (not kept when unknown)."""
        if generation is None:
            return compute()
        with self._lock:
            if generation == self._generation and key in self._values:
                return self._values[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            if generation == self._generation and len(self._values) < 1024:
                self._values[key] = value
        return value

    def _drop(self, key: tuple[str, bytes]) -> None:
        e = self._entries.pop(key, None)
        if e is not None:
            self._bytes -= e.size


class ApiCacheMiddleware:
    """Serves repeated read-API requests from a :class:`ResponseCache` (pure ASGI)."""

    def __init__(
        self, app: ASGIApp, *, cache: ResponseCache, generation: Generation | None
    ) -> None:
        self.app = app
        self.cache = cache
        self.generation = generation
        self._inflight: dict[tuple[Hashable, tuple[str, bytes]], asyncio.Event] = {}

    async def _generation(self) -> Hashable | None:
        assert self.generation is not None
        if self.generation.blocking:
            return await anyio.to_thread.run_sync(self.generation.read)
        return self.generation.read()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.generation is None
            or scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(PREFIX)
            or principal_of(Request(scope)) is None
        ):
            await self.app(scope, receive, send)
            return
        gen = await self._generation()
        if gen is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = gen
        key = (scope["path"], scope.get("query_string", b""))
        max_age = self.cache.max_age if key[0].startswith(CLOCK_DEPENDENT) else None
        entry = self.cache.get(gen, key, max_age)
        if entry is None and (gen, key) in self._inflight:
            await self._inflight[(gen, key)].wait()  # the same answer is being computed
            entry = self.cache.get(gen, key, max_age)
        if entry is not None:
            await _replay(entry, send)
            return
        done = self._inflight.setdefault((gen, key), asyncio.Event())
        try:
            await self._compute(gen, key, scope, receive, send)
        finally:
            if self._inflight.get((gen, key)) is done:
                del self._inflight[(gen, key)]
            done.set()

    async def _compute(
        self, gen: Hashable, key: tuple[str, bytes], scope: Scope, receive: Receive, send: Send
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal start, size
            if message["type"] == "http.response.start":
                start = message
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-cache", b"miss")],
                }
            elif message["type"] == "http.response.body" and start is not None:
                body = message.get("body", b"")
                size += len(body)
                if size <= MAX_BODY:
                    chunks.append(body)
                if not message.get("more_body", False) and _cacheable(start, size):
                    self.cache.put(
                        gen,
                        key,
                        Entry(
                            start["status"],
                            tuple(start.get("headers", [])),
                            b"".join(chunks),
                            self.cache.clock(),
                        ),
                    )
            await send(message)

        await self.app(scope, receive, capture)


def _cacheable(start: Message, size: int) -> bool:
    if start["status"] != 200 or size > MAX_BODY:
        return False
    return all(k.lower() != b"set-cookie" for k, _ in start.get("headers", []))


async def _replay(entry: Entry, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": entry.status,
            "headers": [*entry.headers, (b"x-cache", b"hit")],
        }
    )
    await send({"type": "http.response.body", "body": entry.body})


class RunCache:
    """Memoises values that only change when a run writes: keyed by the latest run's state.

    Least recently used entries go first beyond ``max_entries``, or beyond ``max_weight`` when
    entries are given a weight (:meth:`get_many`: a band walk weighs its points)."""

    def __init__(self, max_entries: int = 256, max_weight: int | None = None) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._max = max_entries
        self._max_weight = max_weight
        self._weight = 0

    def get(self, store: Store, key: tuple[Any, ...], compute: Callable[[], V]) -> V:
        return self.get_many(store, [key], lambda missing: {key: compute()})[key]

    def get_many(
        self,
        store: Store,
        keys: list[K],
        compute: Callable[[list[K]], dict[K, V]],
        weight: Callable[[V], int] = lambda _: 1,
    ) -> dict[K, V]:
        """The value of every key in ``keys``: cached ones as kept, the rest from one call of
        ``compute(missing keys)`` (which answers every one of them), then kept."""
        # which store too: two stores can be at the same run (tests seed many alike)
        marker = (id(store.engine), str(store.engine.url), run_marker(store))
        out: dict[K, V] = {}
        with self._lock:
            for k in keys:
                full = (marker, *k)
                if full in self._data:
                    self._data.move_to_end(full)
                    out[k] = self._data[full][0]
        missing = [k for k in keys if k not in out]
        if not missing:
            return out
        fresh = compute(missing)
        with self._lock:
            for k in missing:
                value = out[k] = fresh[k]
                full = (marker, *k)
                w = weight(value)
                old = self._data.pop(full, None)
                if old is not None:
                    self._weight -= old[1]
                self._data[full] = (value, w)
                self._weight += w
            while len(self._data) > self._max or (
                self._max_weight is not None and self._weight > self._max_weight
            ):
                if len(self._data) <= len(missing):
                    break  # never drop what this call is about to return
                _, (_, w) = self._data.popitem(last=False)
                self._weight -= w
        return out

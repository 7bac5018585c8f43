"""Checks every request passes before any route sees it (pure ASGI, one pass):

* **Host** must be ``web.base_url``'s host or a loopback name (``localhost``,
  ``127.0.0.1``, ``[::1]``), so a DNS-rebinding page cannot talk to a local server as if
  it were its own site;
* **NUL bytes** in the path or query string are refused (422): no store takes them in text;
* **writes** (POST, PUT, PATCH, DELETE) must be same-origin when the browser says where
  they come from (``Origin``, else ``Referer``), and API writes must be
  ``application/json``: a page on another site can then neither post a simple form nor
  send JSON without a CORS preflight, which this server never grants. This holds with or
  without tokens, so a local install without tokens is not open to every web page;
* **bodies** are limited before and during decompression: ``Content-Length`` over the
  limit is refused unread, the body is read up to the limit, and a gzip/deflate body is
  inflated in a stream that stops at the limit (413), so a 1 MB gzip of 1 GiB of zeros
  costs 1 MB; JSON nested deeper than :data:`MAX_JSON_DEPTH` is refused (400) before a
  parser recurses into it.

The route then receives the plain (decompressed) body without ``Content-Encoding``.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
#: larger bodies per path prefix: OpenLineage events with schema facets can be big
BODY_LIMITS = {"/api/v1/lineage": 16 * 1024 * 1024}
MAX_JSON_DEPTH = 64
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def host_name(value: str) -> str:
    """``example.com:8765`` → ``example.com``; ``[::1]:8765`` → ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_hosts(base_url: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names this server answers to: ``base_url``'s, loopback and ``extra``."""
    names = set(LOOPBACK_HOSTS)
    base = urlsplit(base_url).hostname
    if base:
        names.add(base.lower())
    names.update(host_name(h) for h in extra if h and h not in ("0.0.0.0", "::"))
    return frozenset(names)


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays/objects deeper than ``limit`` (strings are skipped).

    >>> json_too_deep(b'[[["]]]]]]"]]]', 3), json_too_deep(b"[[[[1]]]]", 3)
    (False, True)
    """
    depth = 0
    for ch in _JSON_STRING.sub(b'""', body).translate(None, _NOT_BRACKETS):
        if ch in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class RequestGuardMiddleware:
    """Applies the checks in the module docstring; ``hosts`` is from :func:`allowed_hosts`."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            headers = _headers(scope)
            self._check_target(scope, headers)
            if scope["method"] in WRITE_METHODS:
                self._check_origin(scope, headers)
                body = await self._read_body(scope, headers, receive)
                scope, receive = _replay(scope, body, receive)
        except Refused as e:
            await _refuse(send, e)
            return
        await self.app(scope, receive, send)

    def _check_target(self, scope: Scope, headers: dict[str, str]) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        if b"\x00" in raw_path or b"\x00" in query or b"%00" in raw_path or b"%00" in query:
            raise Refused(422, "NUL characters are not allowed in the path or query")
        host = headers.get("host")
        if host is None:
            return  # HTTP/1.0 clients: no browser sends a request without Host
        name = host_name(host)
        client = scope.get("client") or ("", 0)
        # Starlette's TestClient talks in-process as "testserver": no browser can
        if name in self.hosts or (name == "testserver" and client[0] == "testclient"):
            return
        raise Refused(400, f"unknown host {host!r}: set web.base_url to the address users open")

    def _check_origin(self, scope: Scope, headers: dict[str, str]) -> None:
        origin = headers.get("origin") or headers.get("referer")
        if origin is not None:
            host = headers.get("host", "")
            if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
                raise Refused(
                    403, "cross-site write refused: the request comes from another origin"
                )
        if scope["path"].startswith("/api/"):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise Refused(415, "send the body as Content-Type: application/json")

    async def _read_body(self, scope: Scope, headers: dict[str, str], receive: Receive) -> bytes:
        path = scope["path"]
        limit = next((n for p, n in BODY_LIMITS.items() if path.startswith(p)), MAX_BODY_BYTES)
        too_big = f"request body larger than {limit // 1024} KiB"
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise Refused(413 if declared.isdigit() else 400, too_big)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "deflate"):
            raise Refused(415, f"unsupported Content-Encoding {encoding!r}")
        inflater = (
            zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
            if encoding != "identity"
            else None
        )
        out = bytearray()
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "the client went away")
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            received += len(chunk)
            if received > limit:
                raise Refused(413, too_big)
            if inflater is None:
                out += chunk
                continue
            try:
                # never inflate more than what is left under the limit, plus one byte to see
                # that it is over
                out += inflater.decompress(chunk, limit - len(out) + 1)
                if len(out) > limit or inflater.unconsumed_tail:
                    raise Refused(413, f"decompressed {too_big}")
            except zlib.error as e:
                raise Refused(400, f"cannot decompress the {encoding} body: {e}") from None
        if inflater is not None and not inflater.eof and out:
            raise Refused(400, f"truncated {encoding} body")
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json" and json_too_deep(bytes(out)):
            raise Refused(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return bytes(out)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _replay(scope: Scope, body: bytes, receive: Receive) -> tuple[Scope, Receive]:
    """The scope without Content-Encoding and with the true length, and a receive that
    hands the buffered body to the app, then waits on the client as before."""
    headers = [
        (k, v)
        for k, v in scope["headers"]
        if k.lower() not in (b"content-encoding", b"content-length")
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return {**scope, "headers": headers}, replay


async def _refuse(send: Send, e: Refused) -> None:
    body = json.dumps({"detail": e.detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": e.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

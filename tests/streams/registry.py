"""A real HTTP server on loopback that speaks the Schema Registry protocol's read side.

``GET /schemas/ids/{id}`` answers ``{"schema": "<the schema as a JSON string>"}`` for the
schemas registered here, and 404 with error code 40403 otherwise, as the registry does.
Requests are counted, so a test can check that schemas are cached per id.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Registry:
    def __init__(self) -> None:
        self.schemas: dict[int, dict[str, Any]] = {}
        self.requests: Counter[int] = Counter()
        self.url = ""

    def register(self, schema_id: int, schema: dict[str, Any]) -> None:
        self.schemas[schema_id] = schema


@contextmanager
def schema_registry() -> Iterator[Registry]:
    reg = Registry()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                sid = int(parts[2])
                reg.requests[sid] += 1
                if sid in reg.schemas:
                    self._send(200, {"schema": json.dumps(reg.schemas[sid])})
                    return
                self._send(404, {"error_code": 40403, "message": "Schema not found"})
                return
            self._send(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    reg.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield reg
    finally:
        server.shutdown()
        server.server_close()

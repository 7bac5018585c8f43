"""Avro payloads in the Confluent wire format, with their schemas from a Schema Registry.

A message is one zero byte (the magic byte), the writer schema's id as a 4-byte big-endian
integer, then the record in Avro binary encoding. The schema is fetched from the registry
(``GET {url}/schemas/ids/{id}``) the first time an id is seen and kept for the process: a
registry never changes the schema behind an id.

A message that cannot be decoded (another format, a truncated record, an id the registry
does not know) raises :class:`ValueError`, which the profile counts as a parse failure; it
is never fatal. What went wrong with the registry itself (unreachable, an unknown id, a
schema that is not Avro) is kept in :attr:`SchemaRegistry.problems`, one sentence naming
the stream each, for the run to report.

>>> wire(7, b"\\x02")[:5]
b'\\x00\\x00\\x00\\x00\\x07'
"""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidegauge.streams.config import KafkaStreamConfig
    from tidegauge.streams.profile import Decode

MAGIC = 0
#: schemas by (registry url, id), for the process: an id's schema never changes
_CACHE: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


def wire(schema_id: int, body: bytes) -> bytes:
    """The Confluent framing of an Avro-encoded ``body``."""
    return bytes([MAGIC]) + schema_id.to_bytes(4, "big") + body


def _fastavro() -> Any:
    try:
        import fastavro
    except ImportError:
        raise ValueError(
            "the Avro decoder is not installed: pip install 'tidegauge[kafka]'"
        ) from None
    return fastavro


class SchemaRegistry:
    """The schemas of one registry, fetched over HTTP as messages need them."""

    def __init__(self, url: str, stream: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.stream = stream
        self.timeout = timeout
        self.problems: dict[str, None] = {}  # ordered and deduplicated
        self._failed: dict[int, str] = {}  # ids that failed in this poll: not asked again
        self._down: str | None = None  # the registry could not be reached in this poll

    def _problem(self, text: str) -> str:
        msg = f"stream '{self.stream}': {text}"
        self.problems[msg] = None
        return msg

    def schema(self, schema_id: int) -> Any:
        """The parsed writer schema of ``schema_id``; raises ValueError when unavailable."""
        key = (self.url, schema_id)
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        if self._down is not None:
            raise ValueError(self._down)
        if schema_id in self._failed:
            raise ValueError(self._failed[schema_id])
        where = f"{self.url}/schemas/ids/{schema_id}"
        try:
            req = urllib.request.Request(where, headers={"Accept": "application/json"})
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                doc = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                self._failed[schema_id] = self._problem(
                    f"schema id {schema_id} is unknown to the schema registry at {self.url}"
                )
            else:
                self._failed[schema_id] = self._problem(
                    f"the schema registry at {self.url} answered HTTP {e.code} for schema id "
                    f"{schema_id}"
                )
            raise ValueError(self._failed[schema_id]) from None
        except (OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            self._down = self._problem(
                f"the schema registry at {self.url} is unreachable ({reason}); Avro payloads "
                "are counted as parse failures until it answers"
            )
            raise ValueError(self._down) from None
        kind = doc.get("schemaType", "AVRO") if isinstance(doc, dict) else None
        if kind != "AVRO" or not isinstance(doc.get("schema"), str):
            self._failed[schema_id] = self._problem(
                f"schema id {schema_id} in the schema registry at {self.url} is "
                f"{kind or 'not a schema'}, not Avro"
            )
            raise ValueError(self._failed[schema_id])
        try:
            parsed = _fastavro().parse_schema(json.loads(doc["schema"]))
        except Exception as e:  # a schema fastavro refuses: named, and its messages fail
            self._failed[schema_id] = self._problem(
                f"schema id {schema_id} from the schema registry at {self.url} is not valid "
                f"Avro: {e}"
            )
            raise ValueError(self._failed[schema_id]) from None
        with _LOCK:
            _CACHE[key] = parsed
        return parsed


class AvroDecoder:
    """``decode(raw) -> record``; raises ValueError for anything it cannot decode."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self._reader = _fastavro().schemaless_reader

    def __call__(self, raw: bytes) -> Any:
        if len(raw) < 5 or raw[0] != MAGIC:
            raise ValueError("not in the Confluent wire format (magic byte 0 + schema id)")
        schema = self.registry.schema(int.from_bytes(raw[1:5], "big"))
        try:
            return self._reader(io.BytesIO(memoryview(raw)[5:]), schema)
        except Exception as e:  # truncated or corrupt records raise many kinds of error
            raise ValueError(f"undecodable Avro record: {type(e).__name__}") from None


def payload_decoder(
    cfg: KafkaStreamConfig, problems: list[str]
) -> tuple[Decode | None, SchemaRegistry | None]:
    """How a stream's payloads decode (None: ``raw``, not profiled), and its registry.

    A decoder that cannot be built (fastavro missing) is a problem named in ``problems``;
    the rest of the poll goes on.
    """
    if cfg.format == "json":
        return json.loads, None
    if cfg.format != "avro" or cfg.schema_registry is None:
        return None, None
    timeout = cfg.timeout.total_seconds()
    registry = SchemaRegistry(cfg.schema_registry.url, cfg.name, timeout=timeout)
    try:
        return AvroDecoder(registry), registry
    except ValueError as e:
        problems.append(f"stream '{cfg.name}': {e}")
        return None, None


def raw(_payload: bytes) -> Any:
    """The decoder of ``format: raw``: payloads have no fields."""
    raise ValueError("raw payloads have no fields")

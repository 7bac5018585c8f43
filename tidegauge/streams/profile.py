"""The payload profile of a bounded sample of messages: only aggregates leave this module.

Nested fields are flattened to dotted paths (``customer.address.city``); lists are one path
with ``[]`` (``items[].sku``). Per path: its type, the share of messages where it is null or
missing, a distinct estimate, a numeric summary, and, for low-cardinality strings, the count
of each value (the value itself is stored, so ``pii_fields`` paths never keep values). A
message that does not parse, or is larger than the configured limit, is counted, not fatal.

>>> p = profile_payloads([b'{"a": {"b": 1}, "s": "x"}', b'{"a": {"b": 3}}', b'nope'], pii=())
>>> p.parsed, p.failures, sorted(p.fields), p.fields["a.b"].mean
(2, 1, ['a.b', 's'], 2.0)
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

#: values longer than this are not tracked one by one (ids, free text)
MAX_CATEGORY_LENGTH = 100
#: distinct values kept per path before it is known not to be categorical
MAX_TRACKED = 1000


@dataclass
class FieldProfile:
    path: str
    types: Counter[str] = field(default_factory=Counter)
    present: int = 0
    nulls: int = 0
    numbers: list[float] = field(default_factory=list)
    values: Counter[str] = field(default_factory=Counter)
    overflow: bool = False  # more distinct strings than tracked
    pii: bool = False
    #: first message timestamp (ms) at which each value was seen in this sample
    first_seen: dict[str, int] = field(default_factory=dict)

    @property
    def type(self) -> str:
        """The dominant non-null type (``integer`` and ``float`` together are ``number``)."""
        kinds = Counter({k: v for k, v in self.types.items() if k != "null"})
        if not kinds:
            return "null"
        if set(kinds) <= {"integer", "float"} and len(kinds) == 2:
            return "number"
        return kinds.most_common(1)[0][0]

    @property
    def mean(self) -> float | None:
        return sum(self.numbers) / len(self.numbers) if self.numbers else None

    def distinct(self) -> int:
        if self.numbers:
            return len(set(self.numbers))
        return len(self.values)


@dataclass
class Profile:
    messages: int = 0
    parsed: int = 0
    failures: int = 0
    oversized: int = 0
    bytes: int = 0
    fields: dict[str, FieldProfile] = field(default_factory=dict)

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.messages if self.messages else None

    def null_rate(self, path: str) -> float | None:
        """Share of parsed messages where ``path`` is null or missing."""
        f = self.fields.get(path)
        if f is None or not self.parsed:
            return None
        return 1.0 - (f.present - f.nulls) / self.parsed

    def schema(self) -> dict[str, str]:
        """path → type of every path seen with a non-null value."""
        return {p: f.type for p, f in sorted(self.fields.items()) if f.type != "null"}

    def categorical(self, max_distinct: int) -> dict[str, FieldProfile]:
        """String paths with few distinct values (and not PII)."""
        return {
            p: f
            for p, f in self.fields.items()
            if f.type == "string" and not f.pii and not f.overflow and len(f.values) <= max_distinct
        }


#: a payload decoder: bytes → document; raises ValueError for what it cannot decode
Decode = Callable[[bytes], Any]


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float | Decimal):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    # what Avro's logical and binary types decode to
    if isinstance(v, dt.datetime):
        return "timestamp"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, bytes):
        return "bytes"
    return "object"


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf value) pairs; an empty object or list is a leaf of its own."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value and prefix:
        for item in value:
            yield from flatten(item, f"{prefix}[]")
    elif prefix:
        yield prefix, value


def is_pii(path: str, pii: Sequence[str]) -> bool:
    leaf = path.rsplit(".", 1)[-1].replace("[]", "")
    return any(fnmatchcase(path, g) or fnmatchcase(leaf, g) for g in pii)


def profile_payloads(
    payloads: Iterable[bytes | None],
    *,
    pii: Sequence[str],
    timestamps: Iterable[int | None] | None = None,
    max_bytes: int = 1_000_000,
    decode: Decode = json.loads,
) -> Profile:
    """Profile payloads (JSON unless ``decode`` says otherwise); see the module docstring."""
    prof = Profile()
    stamps = iter(timestamps) if timestamps is not None else None
    for raw in payloads:
        ts = next(stamps, None) if stamps is not None else None
        prof.messages += 1
        size = len(raw) if raw is not None else 0
        prof.bytes += size
        if size > max_bytes:
            prof.oversized += 1
            prof.failures += 1
            continue
        try:
            doc = decode(raw) if raw is not None else None
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            prof.failures += 1
            continue
        if not isinstance(doc, dict):
            prof.failures += 1
            continue
        prof.parsed += 1
        seen: set[str] = set()
        for path, v in flatten(doc):
            f = prof.fields.get(path)
            if f is None:
                f = prof.fields[path] = FieldProfile(path, pii=is_pii(path, pii))
            if path not in seen:  # a list path counts once per message
                f.present += 1
                if v is None:
                    f.nulls += 1
                seen.add(path)
            kind = _kind(v)
            f.types[kind] += 1
            if f.pii:
                continue
            if kind in ("integer", "float") and math.isfinite(float(v)):
                f.numbers.append(float(v))
            elif kind == "string" and not f.overflow:
                if len(v) > MAX_CATEGORY_LENGTH or (
                    v not in f.values and len(f.values) >= MAX_TRACKED
                ):
                    f.overflow = True
                    f.values.clear()
                    f.first_seen.clear()
                else:
                    f.values[v] += 1
                    if ts is not None and (v not in f.first_seen or ts < f.first_seen[v]):
                        f.first_seen[v] = ts
    return prof


def value_at(doc: bytes | None, path: str, decode: Decode = json.loads) -> Any:
    """The value at a dotted path of a payload (None if absent or undecodable)."""
    try:
        cur: Any = decode(doc) if doc is not None else None
    except ValueError:
        return None
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur

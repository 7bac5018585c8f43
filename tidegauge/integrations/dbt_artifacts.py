"""dbt's JSON artefacts as files: reading them with clear errors, and the results inside.

``run_results.json`` gives test outcomes (:class:`DbtTestResult`) and models that did not
build (:class:`DbtRunEvent`); ``sources.json`` gives source freshness. Everything a file can
get wrong raises :class:`DbtArtifactError` naming the file. The manifest itself, and the graph
built from it, are :mod:`tidegauge.integrations.dbt`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

RELATION_RESOURCE_TYPES = ("model", "seed", "snapshot")


class DbtArtifactError(ValueError):
    """A dbt artefact is missing, malformed, truncated or of an unsupported version."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DbtTest:
    """A data test from the manifest; generic ones carry their type, column and params."""

    unique_id: str
    name: str
    test_type: str  # not_null, unique, accepted_values, relationships, ... or "singular"
    namespace: str | None
    node_id: str | None  # the model/source/seed it is attached to
    column: str | None
    params: Mapping[str, Any]
    severity: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DbtTestResult:
    """One test outcome from ``run_results.json``; the lead turns these into ``rule`` alerts."""

    test_id: str
    test_name: str
    test_type: str
    node_id: str | None
    table: str | None  # schema.table of the tested node
    column: str | None
    status: str  # pass, fail, warn, error, skipped
    failures: int | None
    message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    execution_time: float | None
    severity: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error", "warn")


@dataclass(frozen=True, slots=True)
class DbtRunEvent:
    """A model, seed or snapshot that did not build: a root-cause candidate for incidents."""

    node_id: str
    table: str | None
    resource_type: str
    status: str  # error or skipped
    message: str | None
    started_at: datetime | None
    completed_at: datetime | None
    execution_time: float | None


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    source_id: str
    table: str | None
    status: str  # pass, warn, error, runtime error
    max_loaded_at: datetime | None
    snapshotted_at: datetime | None
    age_seconds: float | None
    message: str | None = None


# ------------------------------------------------------------------------------ reading files


def read_artifact(path: Path | str) -> dict[str, Any]:
    """Load one JSON artefact; syntax errors name the line and column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DbtArtifactError(p, "file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DbtArtifactError(p, f"cannot read file: {exc}") from exc
    if not text.strip():
        raise DbtArtifactError(p, "file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DbtArtifactError(
            p, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} (truncated?)"
        ) from exc
    if not isinstance(data, dict):
        raise DbtArtifactError(p, f"expected a JSON object, got {type(data).__name__}")
    return data


def schema_version_of(path: Path, data: Mapping[str, Any], kind: str) -> int:
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        raise DbtArtifactError(path, "no 'metadata' object: not a dbt artefact")
    url = meta.get("dbt_schema_version")
    if not isinstance(url, str) or f"/{kind}/v" not in url:
        raise DbtArtifactError(
            path, f"metadata.dbt_schema_version is {url!r}, not a dbt {kind} schema"
        )
    tail = url.rsplit("/v", 1)[-1].removesuffix(".json")
    if not tail.isdigit():
        raise DbtArtifactError(path, f"cannot read the version in {url!r}")
    return int(tail)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# ------------------------------------------------------------------------------ run results


def _timing(result: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    start = end = None
    for t in result.get("timing") or ():
        s, e = parse_time(t.get("started_at")), parse_time(t.get("completed_at"))
        if s and (start is None or s < start):
            start = s
        if e and (end is None or e > end):
            end = e
    return start, end


def read_run_results(
    path: Path,
    data: Mapping[str, Any],
    table_of: Callable[[str | None], str | None],
    tests: Mapping[str, DbtTest],
) -> tuple[list[DbtTestResult], list[DbtRunEvent]]:
    results = data.get("results")
    if not isinstance(results, list):
        raise DbtArtifactError(path, "'results' is missing or not a list")
    test_results: list[DbtTestResult] = []
    events: list[DbtRunEvent] = []
    for r in results:
        if not isinstance(r, dict) or "unique_id" not in r or "status" not in r:
            raise DbtArtifactError(path, f"a result lacks unique_id or status: {str(r)[:200]}")
        uid = str(r["unique_id"])
        status = str(r["status"]).lower()
        start, end = _timing(r)
        failures = r.get("failures")
        if uid.startswith("test."):
            t = tests.get(uid)
            test_results.append(
                DbtTestResult(
                    test_id=uid,
                    test_name=t.name if t else uid.split(".")[2],
                    test_type=t.test_type if t else "unknown",
                    node_id=t.node_id if t else None,
                    table=table_of(t.node_id) if t else None,
                    column=t.column if t else None,
                    status=status,
                    failures=int(failures) if isinstance(failures, int | float) else None,
                    message=r.get("message"),
                    started_at=start,
                    completed_at=end,
                    execution_time=r.get("execution_time"),
                    severity=t.severity if t else "error",
                    params=dict(t.params) if t else {},
                )
            )
        elif uid.split(".", 1)[0] in RELATION_RESOURCE_TYPES and status in ("error", "skipped"):
            events.append(
                DbtRunEvent(
                    node_id=uid,
                    table=table_of(uid),
                    resource_type=uid.split(".", 1)[0],
                    status=status,
                    message=r.get("message"),
                    started_at=start,
                    completed_at=end,
                    execution_time=r.get("execution_time"),
                )
            )
    return test_results, events


def read_sources_json(
    path: Path, data: Mapping[str, Any], table_of: Callable[[str | None], str | None]
) -> list[SourceFreshness]:
    results = data.get("results")
    if not isinstance(results, list):
        raise DbtArtifactError(path, "'results' is missing or not a list")
    out: list[SourceFreshness] = []
    for r in results:
        if not isinstance(r, dict) or "unique_id" not in r:
            raise DbtArtifactError(path, f"a result lacks unique_id: {str(r)[:200]}")
        uid = str(r["unique_id"])
        age = r.get("max_loaded_at_time_ago_in_s")
        out.append(
            SourceFreshness(
                source_id=uid,
                table=table_of(uid),
                status=str(r.get("status") or ""),
                max_loaded_at=parse_time(r.get("max_loaded_at")),
                snapshotted_at=parse_time(r.get("snapshotted_at")),
                age_seconds=float(age) if isinstance(age, int | float) else None,
                message=r.get("error") or r.get("message"),
            )
        )
    return out

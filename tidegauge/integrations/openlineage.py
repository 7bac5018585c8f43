"""OpenLineage in and out.

**In**: :func:`parse_event` validates any event of spec 2-0-2: a ``RunEvent`` (``eventTime``,
``producer``, ``schemaURL``, ``run.runId``, ``job.namespace``/``job.name`` required;
``eventType`` optional) or one of the static-lineage events, a ``JobEvent`` (a job and its
inputs and outputs, no run) or a ``DatasetEvent`` (one dataset and its facets). It extracts job
→ dataset lineage with the ``schema``, ``columnLineage`` and ``outputStatistics`` facets.
:meth:`RunEvent.to_graph` turns it into a :class:`~tidegauge.core.lineage.LineageGraph`
fragment and :attr:`RunEvent.volumes` into row-count observations. An error names the event
type and the field at fault (``JobEvent: missing or empty required field job.name``).
:class:`InMemoryLineageRecorder` is the reference :class:`LineageRecorder`: idempotent on
:attr:`RunEvent.key`.

**Out**: :func:`build_quality_event` makes a RunEvent for one of tidegauge's own runs with
``dataQualityMetrics`` and ``dataQualityAssertions`` input facets; :class:`OpenLineageEmitter`
POSTs it to a configured URL the way OpenLineage's HTTP transport does. Datasets are named by
:mod:`tidegauge.integrations.openlineage_naming`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from tidegauge.core.lineage import EdgeKind, LineageGraph, Node, NodeColumn, NodeKind, Origin

PRODUCER = "https://github.com/tidegauge/tidegauge"
SPEC_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACET = "https://openlineage.io/spec/facets"
DQ_METRICS_URL = (
    f"{_FACET}/1-0-3/DataQualityMetricsInputDatasetFacet.json"
    "#/$defs/DataQualityMetricsInputDatasetFacet"
)
DQ_ASSERTIONS_URL = (
    f"{_FACET}/1-1-0/DataQualityAssertionsDatasetFacet.json"
    "#/$defs/DataQualityAssertionsDatasetFacet"
)
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
#: the kinds of event the 2-0-2 spec defines (``#/$defs/<kind>`` in ``schemaURL``)
EVENT_KINDS = ("RunEvent", "JobEvent", "DatasetEvent")


class InvalidEvent(ValueError):
    """The body is not an event we can record; ``reason`` says why (for an HTTP 400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Dataset:
    namespace: str
    name: str
    fields: tuple[NodeColumn, ...] = ()
    # output column -> [(namespace, name, field, transformation type)]
    column_lineage: Mapping[str, tuple[tuple[str, str, str, str], ...]] = field(
        default_factory=dict
    )
    row_count: int | None = None
    size_bytes: int | None = None

    @property
    def node_id(self) -> str:
        return f"openlineage:{self.namespace}/{self.name}"

    def to_node(self) -> Node:
        """A table node; ``name`` like ``db.schema.table`` gives schema and table for merging."""
        parts = self.name.split(".")
        schema = parts[-2] if len(parts) >= 2 else None
        database = parts[-3] if len(parts) >= 3 else None
        return Node(
            id=self.node_id,
            kind=NodeKind.TABLE,
            name=parts[-1],
            schema=schema,
            table=parts[-1] if schema else None,
            database=database,
            columns=self.fields,
            meta={"namespace": self.namespace, "ol_name": self.name},
            origins=(Origin.OPENLINEAGE,),
        )


@dataclass(frozen=True, slots=True)
class VolumeObservation:
    """``outputStatistics.rowCount`` of one output at one event: a volume metric point."""

    namespace: str
    name: str
    row_count: int
    observed_at: datetime
    run_id: str
    size_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One received event. ``kind`` is ``RunEvent``, ``JobEvent`` (no run: ``run_id`` is None)
    or ``DatasetEvent`` (no job, no run: the dataset is in ``datasets``)."""

    event_time: datetime
    event_type: str | None
    run_id: str | None
    job_namespace: str
    job_name: str
    producer: str
    schema_url: str
    inputs: tuple[Dataset, ...]
    outputs: tuple[Dataset, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    kind: str = "RunEvent"
    datasets: tuple[Dataset, ...] = ()

    @property
    def key(self) -> str:
        """Idempotency key: the same event delivered twice has the same key."""
        if self.kind == "RunEvent":
            text = f"{self.run_id}|{self.event_type or ''}|{self.event_time.isoformat()}"
        elif self.kind == "JobEvent":
            text = f"JobEvent|{self.job_namespace}|{self.job_name}|{self.event_time.isoformat()}"
        else:
            names = "|".join(f"{d.namespace}/{d.name}" for d in self.datasets)
            text = f"DatasetEvent|{names}|{self.event_time.isoformat()}"
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def job_id(self) -> str:
        return f"openlineage-job:{self.job_namespace}/{self.job_name}"

    @property
    def volumes(self) -> tuple[VolumeObservation, ...]:
        """Row counts a run wrote (a static JobEvent describes a job, not an execution)."""
        if self.run_id is None:
            return ()
        return tuple(
            VolumeObservation(
                d.namespace, d.name, d.row_count, self.event_time, self.run_id, d.size_bytes
            )
            for d in self.outputs
            if d.row_count is not None
        )

    def to_graph(self) -> LineageGraph:
        """Job node between its inputs and outputs; column edges from ``columnLineage``.
        A DatasetEvent gives just its dataset (its columns from the ``schema`` facet)."""
        g = LineageGraph()
        for d in self.datasets:
            g.add_node(d.to_node())
        if self.kind == "DatasetEvent":
            return g
        g.add_node(
            Node(
                id=self.job_id,
                kind=NodeKind.JOB,
                name=self.job_name,
                meta={"namespace": self.job_namespace, "producer": self.producer},
                origins=(Origin.OPENLINEAGE,),
            )
        )
        ids: dict[tuple[str, str], str] = {}
        for d in (*self.inputs, *self.outputs):
            ids[(d.namespace, d.name)] = g.add_node(d.to_node()).id
        for d in self.inputs:
            g.add_edge(ids[(d.namespace, d.name)], self.job_id, Origin.OPENLINEAGE)
        for d in self.outputs:
            out_id = ids[(d.namespace, d.name)]
            g.add_edge(self.job_id, out_id, Origin.OPENLINEAGE)
            for out_col, sources in d.column_lineage.items():
                for ns, name, src_field, ttype in sources:
                    src_id = ids.get((ns, name))
                    if src_id is None:
                        src_id = g.add_node(Dataset(ns, name).to_node()).id
                        ids[(ns, name)] = src_id
                    kind = EdgeKind.INDIRECT if ttype == "INDIRECT" else EdgeKind.DIRECT
                    g.add_column_edge(src_id, src_field, out_id, out_col, kind, Origin.OPENLINEAGE)
        return g


class LineageRecorder(Protocol):
    """Where the HTTP endpoint hands valid events (the store implements it).

    ``record`` returns False when the event was already recorded (same :attr:`RunEvent.key`).
    """

    def record(self, event: RunEvent) -> bool: ...


@dataclass
class InMemoryLineageRecorder:
    """A recorder that keeps everything in memory: tests and the reference behaviour."""

    graph: LineageGraph = field(default_factory=LineageGraph)
    events: list[RunEvent] = field(default_factory=list)
    volumes: list[VolumeObservation] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)

    def record(self, event: RunEvent) -> bool:
        if event.key in self._keys:
            return False
        self._keys.add(event.key)
        self.events.append(event)
        self.graph.merge(event.to_graph())
        self.volumes.extend(event.volumes)
        return True


# ------------------------------------------------------------------------------ parsing


def _require_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"missing or empty required field {where}{key}")
    return value


def _obj(value: Any, where: str, required: bool = True) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if value is None:
        raise InvalidEvent(f"missing required field {where}")
    if not isinstance(value, dict):
        raise InvalidEvent(f"{where} must be an object")
    return value


def _fields(facet: Mapping[str, Any], prefix: str = "") -> list[NodeColumn]:
    out: list[NodeColumn] = []
    for f in facet.get("fields") or ():
        if isinstance(f, dict) and isinstance(f.get("name"), str):
            name = f"{prefix}{f['name']}"
            out.append(NodeColumn(name, f.get("type"), str(f.get("description") or "")))
            if f.get("fields"):
                out.extend(_fields(f, prefix=f"{name}."))
    return out


def _dataset(d: Any, where: str, output: bool) -> Dataset:
    obj = _obj(d, where)
    ns = _require_str(obj, "namespace", f"{where}.")
    name = _require_str(obj, "name", f"{where}.")
    facets = _obj(obj.get("facets"), f"{where}.facets", required=False)
    schema = _obj(facets.get("schema"), f"{where}.facets.schema", required=False)
    lineage: dict[str, tuple[tuple[str, str, str, str], ...]] = {}
    cl = _obj(facets.get("columnLineage"), f"{where}.facets.columnLineage", required=False)
    for out_col, spec in (_obj(cl.get("fields"), "columnLineage.fields", False)).items():
        srcs: list[tuple[str, str, str, str]] = []
        for inp in _obj(spec, f"columnLineage.fields.{out_col}").get("inputFields") or ():
            if not isinstance(inp, dict):
                raise InvalidEvent(f"columnLineage.fields.{out_col}.inputFields must be objects")
            trans = inp.get("transformations") or []
            ttype = "DIRECT"
            if trans and all(isinstance(t, dict) and t.get("type") == "INDIRECT" for t in trans):
                ttype = "INDIRECT"
            if spec.get("transformationType") == "INDIRECT":
                ttype = "INDIRECT"
            srcs.append(
                (
                    _require_str(inp, "namespace", "inputFields."),
                    _require_str(inp, "name", "inputFields."),
                    _require_str(inp, "field", "inputFields."),
                    ttype,
                )
            )
        lineage[str(out_col)] = tuple(srcs)
    row_count = size = None
    if output:
        out_facets = _obj(obj.get("outputFacets"), f"{where}.outputFacets", required=False)
        stats = _obj(out_facets.get("outputStatistics"), "outputStatistics", required=False)
        rc, sz = stats.get("rowCount"), stats.get("size")
        if rc is not None and (not isinstance(rc, int) or isinstance(rc, bool) or rc < 0):
            raise InvalidEvent(f"{where}.outputFacets.outputStatistics.rowCount must be >= 0")
        row_count = rc
        size = sz if isinstance(sz, int) and not isinstance(sz, bool) else None
    return Dataset(ns, name, tuple(_fields(schema)), lineage, row_count, size)


def _kind_of(data: Mapping[str, Any]) -> str:
    """What kind of event this is: the ``schemaURL`` fragment says, else its fields do."""
    url = data.get("schemaURL")
    if isinstance(url, str) and "#/$defs/" in url:
        kind = url.rsplit("/", 1)[-1]
        if kind in EVENT_KINDS:
            return kind
    if "dataset" in data and "run" not in data and "job" not in data:
        return "DatasetEvent"
    if "job" in data and "run" not in data:
        return "JobEvent"
    return "RunEvent"


def parse_event(body: bytes | str | Mapping[str, Any]) -> RunEvent:
    """Validate and parse a RunEvent, JobEvent or DatasetEvent; raises :class:`InvalidEvent`
    whose reason starts with the event type and names the field at fault."""
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidEvent(f"body is not JSON: {exc}") from exc
    else:
        data = body
    if not isinstance(data, dict):
        raise InvalidEvent("an OpenLineage event must be a JSON object")
    kind = _kind_of(data)
    try:
        return _parse(data, kind)
    except InvalidEvent as exc:
        raise InvalidEvent(f"{kind}: {exc.reason}") from exc


def parse_run_event(body: bytes | str | Mapping[str, Any]) -> RunEvent:
    """Kept for callers written before static lineage: any event kind is accepted."""
    return parse_event(body)


def _parse(data: Mapping[str, Any], kind: str) -> RunEvent:
    event_time_s = _require_str(data, "eventTime", "")
    try:
        event_time = datetime.fromisoformat(event_time_s)
    except ValueError as exc:
        raise InvalidEvent(f"eventTime {event_time_s!r} is not an ISO-8601 date-time") from exc
    if event_time.tzinfo is None:
        event_time = event_time.replace(tzinfo=UTC)
    producer = _require_str(data, "producer", "")
    schema_url = _require_str(data, "schemaURL", "")
    if kind == "DatasetEvent":
        for forbidden in ("run", "job"):
            if forbidden in data:
                raise InvalidEvent(f"a DatasetEvent has no {forbidden} (send a RunEvent)")
        dataset = _dataset(data.get("dataset"), "dataset", False)
        return RunEvent(
            event_time,
            None,
            None,
            "",
            "",
            producer,
            schema_url,
            (),
            (),
            data,
            kind=kind,
            datasets=(dataset,),
        )
    event_type = data.get("eventType")
    run_id: str | None = None
    if kind == "RunEvent":
        if event_type is not None and event_type not in EVENT_TYPES:
            raise InvalidEvent(f"eventType {event_type!r} is not one of {', '.join(EVENT_TYPES)}")
        run = _obj(data.get("run"), "run")
        run_id = _require_str(run, "runId", "run.")
        try:
            uuid.UUID(run_id)
        except ValueError as exc:
            raise InvalidEvent(f"run.runId {run_id!r} is not a UUID") from exc
    elif "run" in data:
        raise InvalidEvent("a JobEvent has no run (send a RunEvent)")
    else:
        event_type = None  # a JobEvent has no run state
    job = _obj(data.get("job"), "job")
    inputs = data.get("inputs") or []
    outputs = data.get("outputs") or []
    if not isinstance(inputs, list):
        raise InvalidEvent("inputs must be a list")
    if not isinstance(outputs, list):
        raise InvalidEvent("outputs must be a list")
    return RunEvent(
        event_time=event_time,
        event_type=event_type,
        run_id=run_id,
        job_namespace=_require_str(job, "namespace", "job."),
        job_name=_require_str(job, "name", "job."),
        producer=producer,
        schema_url=schema_url,
        inputs=tuple(_dataset(d, f"inputs[{i}]", False) for i, d in enumerate(inputs)),
        outputs=tuple(_dataset(d, f"outputs[{i}]", True) for i, d in enumerate(outputs)),
        raw=data,
        kind=kind,
    )


# ------------------------------------------------------------------------------ emission


@dataclass(frozen=True, slots=True)
class ColumnMetrics:
    null_count: int | None = None
    distinct_count: int | None = None
    sum: float | None = None
    count: float | None = None
    min: float | None = None
    max: float | None = None
    quantiles: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "nullCount": self.null_count,
            "distinctCount": self.distinct_count,
            "sum": self.sum,
            "count": self.count,
            "min": self.min,
            "max": self.max,
        }
        if self.quantiles:
            out["quantiles"] = dict(self.quantiles)
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Assertion:
    assertion: str  # not_null, unique, row_count, freshness, custom_sql...
    success: bool
    column: str | None = None
    severity: str | None = None
    name: str | None = None
    expected: str | None = None
    actual: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {
            "assertion": self.assertion,
            "success": self.success,
            "column": self.column,
            "severity": self.severity,
            "name": self.name,
            "expected": self.expected,
            "actual": self.actual,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True, slots=True)
class DatasetQuality:
    """What tidegauge measured on one table in one run."""

    namespace: str
    name: str
    row_count: int | None = None
    bytes: int | None = None
    columns: Mapping[str, ColumnMetrics] = field(default_factory=dict)
    assertions: Sequence[Assertion] = ()


def build_quality_event(
    datasets: Sequence[DatasetQuality],
    *,
    run_id: str | None = None,
    event_type: str = "COMPLETE",
    job_namespace: str = "tidegauge",
    job_name: str = "tidegauge.run",
    event_time: datetime | None = None,
    producer: str = PRODUCER,
) -> dict[str, Any]:
    """A RunEvent (as JSON-ready dict) with ``dataQualityMetrics``/``dataQualityAssertions``."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {EVENT_TYPES}")
    when = event_time or datetime.now(UTC)
    inputs: list[dict[str, Any]] = []
    for ds in datasets:
        facets: dict[str, Any] = {
            "dataQualityMetrics": {
                "_producer": producer,
                "_schemaURL": DQ_METRICS_URL,
                "columnMetrics": {c: m.to_json() for c, m in ds.columns.items()},
                **({"rowCount": ds.row_count} if ds.row_count is not None else {}),
                **({"bytes": ds.bytes} if ds.bytes is not None else {}),
            }
        }
        if ds.assertions:
            facets["dataQualityAssertions"] = {
                "_producer": producer,
                "_schemaURL": DQ_ASSERTIONS_URL,
                "assertions": [a.to_json() for a in ds.assertions],
            }
        inputs.append({"namespace": ds.namespace, "name": ds.name, "inputFacets": facets})
    return {
        "eventType": event_type,
        "eventTime": when.isoformat(),
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": job_namespace, "name": job_name},
        "inputs": inputs,
        "outputs": [],
        "producer": producer,
        "schemaURL": SPEC_URL,
    }


class OpenLineageEmitter:
    """POST RunEvents to an OpenLineage endpoint (``{url}/api/v1/lineage``, like the client)."""

    def __init__(
        self,
        url: str,
        *,
        endpoint: str = "api/v1/lineage",
        api_key: str | None = None,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/" + endpoint.lstrip("/")
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = client or httpx.Client(timeout=timeout)
        self._headers = headers

    def emit(self, event: Mapping[str, Any]) -> None:
        """Send one event; raises ``httpx.HTTPError`` on transport errors or a non-2xx reply."""
        resp = self._client.post(self.url, content=json.dumps(event), headers=self._headers)
        resp.raise_for_status()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenLineageEmitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

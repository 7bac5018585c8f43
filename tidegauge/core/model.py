"""The domain vocabulary: tables, columns, metric points, alerts and incidents.

Everything here is plain, immutable data with no I/O, so that detectors, the store,
the web layer and notifiers can all speak about the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class TypeFamily(StrEnum):
    """What kind of values a column holds, independent of the engine's type name."""

    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    STRING = "string"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    DATE = "date"
    TIME = "time"
    BINARY = "binary"
    JSON = "json"
    ARRAY = "array"
    STRUCT = "struct"
    INTERVAL = "interval"
    GEOMETRY = "geometry"
    OTHER = "other"

    @property
    def numeric(self) -> bool:
        return self in (TypeFamily.INTEGER, TypeFamily.FLOAT, TypeFamily.DECIMAL)

    @property
    def temporal(self) -> bool:
        return self in (TypeFamily.TIMESTAMP, TypeFamily.DATE)

    @property
    def profilable(self) -> bool:
        """Whether field-health metrics can be computed on it with plain aggregates."""
        return self not in (
            TypeFamily.JSON,
            TypeFamily.ARRAY,
            TypeFamily.STRUCT,
            TypeFamily.INTERVAL,
            TypeFamily.GEOMETRY,
            TypeFamily.BINARY,
            TypeFamily.OTHER,
        )


class TableKind(StrEnum):
    TABLE = "table"
    VIEW = "view"


@dataclass(frozen=True, slots=True, order=True)
class TableRef:
    """A table in one configured warehouse.

    >>> TableRef("main", "shop", "orders").fqn
    'shop.orders'
    """

    warehouse: str
    schema: str
    name: str
    database: str | None = None

    @property
    def fqn(self) -> str:
        """``schema.table``: how users name a table in the CLI and the UI."""
        return f"{self.schema}.{self.name}"

    @property
    def key(self) -> str:
        """Unique across warehouses: ``warehouse:schema.table``."""
        return f"{self.warehouse}:{self.fqn}"

    def __str__(self) -> str:
        return self.fqn


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """One column as the warehouse describes it."""

    name: str
    data_type: str
    family: TypeFamily
    nullable: bool = True
    ordinal: int = 0


@dataclass(frozen=True, slots=True)
class TableInfo:
    """One table or view with the statistics the engine keeps without a scan."""

    ref: TableRef
    kind: TableKind = TableKind.TABLE
    row_count: int | None = None
    bytes: int | None = None
    last_modified: datetime | None = None
    columns: tuple[ColumnInfo, ...] = ()
    comment: str | None = None


class AlertKind(StrEnum):
    FRESHNESS = "freshness"
    VOLUME = "volume"
    SCHEMA_CHANGE = "schema_change"
    NULL_RATE = "null_rate"
    DISTINCT = "distinct"
    DISTRIBUTION = "distribution"
    CATEGORY_NEW_VALUE = "category_new_value"
    CATEGORY_VANISHED = "category_vanished"
    CATEGORY_SHIFT = "category_shift"
    DUPLICATES = "duplicates"
    RULE = "rule"
    CUSTOM = "custom"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    FIXED = "fixed"
    EXPECTED = "expected"
    FALSE_POSITIVE = "false_positive"
    NO_ACTION_NEEDED = "no_action_needed"

    @property
    def is_open(self) -> bool:
        return self in (
            IncidentStatus.OPEN,
            IncidentStatus.ACKNOWLEDGED,
            IncidentStatus.INVESTIGATING,
        )


class Feedback(StrEnum):
    """What a user says about an alert; detectors read it back when they train."""

    EXPECTED = "expected"
    FALSE_POSITIVE = "false_positive"
    FIXED = "fixed"


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of one metric for one time bucket of one table (or column, or segment).

    ``bucket_start`` is the start of the data-time bucket the value describes, in UTC;
    table-level snapshots (row count from metadata, freshness) use the collection time.
    """

    table: TableRef
    metric: str
    bucket_start: datetime
    value: float | None
    column: str | None = None
    segment: str | None = None
    bucket_seconds: int = 0


#: the slot setters of :class:`MetricPoint`, in field order (see :func:`new_point`); read from
#: the class, so a field added to it makes :func:`new_point` fail loudly instead of leaving
#: the new slot unset
_POINT_SLOTS = tuple(MetricPoint.__dict__[f.name].__set__ for f in fields(MetricPoint))


def new_point(
    table: TableRef,
    metric: str,
    bucket_start: datetime,
    value: float | None,
    column: str | None,
    segment: str | None,
    bucket_seconds: int,
) -> MetricPoint:
    """``MetricPoint(table, metric, …)``, built for the paths that make hundreds of thousands
    of them (a first run's collection, detection's history read).

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, a
    Python-level call per field: about half of a point's cost. Here the slots are filled
    through their descriptors; the point is the same (equal, hashed and frozen alike).
    """
    point = object.__new__(MetricPoint)
    t, m, b, v, c, s, secs = _POINT_SLOTS
    t(point, table)
    m(point, metric)
    b(point, bucket_start)
    v(point, value)
    c(point, column)
    s(point, segment)
    secs(point, bucket_seconds)
    return point


@dataclass(slots=True)
class Alert:
    """Something a detector or a rule flagged, with the evidence behind it."""

    kind: AlertKind
    table: TableRef
    metric: str
    data_time: datetime
    detected_at: datetime
    column: str | None = None
    segment: str | None = None
    observed: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    severity: Severity = Severity.MEDIUM
    title: str = ""
    explanation: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    incident_id: int | None = None
    feedback: Feedback | None = None

    @property
    def fingerprint(self) -> str:
        """Identity used to never store the same alert twice (re-runs, concurrent runs)."""
        parts = [
            self.kind.value,
            self.table.key,
            self.column or "",
            self.segment or "",
            self.metric,
            self.data_time.isoformat(),
        ]
        return "|".join(parts)


@dataclass(frozen=True, slots=True)
class Impact:
    """Who and what is hit downstream of an incident's root table."""

    tables: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    exposures: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "tables": list(self.tables),
            "columns": list(self.columns),
            "exposures": list(self.exposures),
            "owners": list(self.owners),
        }


@dataclass(slots=True)
class Incident:
    """One real problem: a root alert plus the downstream symptoms grouped under it."""

    kind: AlertKind
    table: TableRef
    title: str
    data_time: datetime
    detected_at: datetime
    status: IncidentStatus = IncidentStatus.OPEN
    severity: Severity = Severity.MEDIUM
    column: str | None = None
    summary: str = ""
    owner: str | None = None
    alert_ids: list[int] = field(default_factory=list)
    impact: Impact = field(default_factory=Impact)
    root_cause: list[dict[str, Any]] = field(default_factory=list)
    observed: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    tags: tuple[str, ...] = ()
    #: why it has that level, short plain-language reasons (tidegauge.core.severity)
    severity_reason: list[str] = field(default_factory=list)
    id: int | None = None

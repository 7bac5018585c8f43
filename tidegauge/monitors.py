"""Monitors as code: the declared monitors of a project, as pydantic models.

A monitor is one discriminated union on ``type:`` — ``freshness``, ``volume``,
``field_health``, ``categorical``, ``custom_sql`` and ``rule`` — declared under the project
file's ``monitors:`` key, in ``monitors/*.yml`` beside it, in a dbt model's or source's
``meta: {tidegauge: ...}``, as dbt's generic tests (``not_null``, ``unique``,
``accepted_values``, ``relationships``), or in Python with the same classes:

>>> m = VolumeMonitor(name="orders_volume", table="raw.orders", min_rows=10)
>>> m.type, m.severity
('volume', 'medium')
>>> RuleMonitor(name="status_ok", table="raw.orders", rule="accepted_values",
...             column="status", values=["paid", "placed"]).rule
'accepted_values'

The pipeline honours them by translation (:func:`install`): each monitor becomes the
per-table settings, custom SQL metrics with bounds (which the detect step checks as
``rule`` alerts) and routes that the run already reads. So a ``rule`` monitor is one exact,
whole-table violation count pushed down to the warehouse (``max: 0``), and a learned monitor
(freshness, volume, field health, categorical) switches on and tunes the learned detector of
its table.

This module imports only pydantic and the standard library at import time; the project
file model (``tidegauge.config``) imports it, never the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from tidegauge.core.schedule import check_schedule as _check_schedule
from tidegauge.core.units import parse_duration

if TYPE_CHECKING:
    from tidegauge.config import CustomMetric, Project, TableSettings
    from tidegauge.integrations.dbt import DbtProject
    from tidegauge.notifiers.config import RouteConfig
    from tidegauge.yamlsource import SourceMap

__all__ = [
    "MONITOR_TYPES",
    "CategoricalMonitor",
    "CustomSQLMonitor",
    "FieldHealthMonitor",
    "FreshnessMonitor",
    "Monitor",
    "MonitorsFile",
    "RuleMonitor",
    "VolumeMonitor",
    "declared_monitors",
    "install",
    "parse_monitor",
]

MONITOR_TYPES = ("freshness", "volume", "field_health", "categorical", "custom_sql", "rule")

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")

FieldMetric = Literal[
    "null_rate",
    "distinct_count",
    "mean",
    "p50",
    "min",
    "max",
    "empty_rate",
    "zero_rate",
    "negative_rate",
    "true_rate",
    "len_mean",
    "duplicate_rate",
]
RuleName = Literal[
    "not_null", "unique", "accepted_values", "range", "row_count_min", "relationships"
]


def _duration(value: Any) -> Any:
    return None if value is None else parse_duration(value)


def check_schedule(value: str) -> str:
    """A schedule is an interval (``30m``, ``6h``, ``1d``) or a five-field cron expression,
    read by :mod:`tidegauge.core.schedule`, the same code that decides when a run is due.

    >>> check_schedule("0 6 * * 1-5"), check_schedule("6h")
    ('0 6 * * 1-5', '6h')
    """
    return _check_schedule(value)


class _MonitorBase(BaseModel):
    """What every monitor has. ``table`` is ``schema.table`` or ``warehouse:schema.table``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., description="unique across the project; letters, digits, _ . -")
    table: str = Field(..., description="schema.table (or warehouse:schema.table)")
    description: str | None = None
    schedule: str | None = Field(
        None,
        description="interval (30m, 6h, 1d) or five-field cron",
        json_schema_extra={"examples": ["1h", "0 6 * * *"]},
    )
    owner: str | None = Field(None, description="who is told; routes match on it")
    severity: Literal["low", "medium", "high", "critical"] = Field(
        "medium", description="the severity of this monitor's alerts for breakers"
    )
    sensitivity: Literal["low", "medium", "high"] | None = Field(
        None, description="how readily a learned detector alerts"
    )
    direction: Literal["up", "down", "both"] | None = Field(
        None, description="which deviations count (default: the metric's usual bad side)"
    )
    channels: list[str] = Field(default_factory=list, description="channels to notify")
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True

    _origin: str | None = PrivateAttr(default=None)
    _source: str = PrivateAttr(default="python")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"'{v}' is not a monitor name (letters, digits, _ . - only)")
        return v

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        bare = v.split(":", 1)[-1]
        if bare.count(".") < 1 or any(not p for p in bare.split(".")):
            raise ValueError(f"'{v}' is not schema.table (or warehouse:schema.table)")
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        return None if v is None else check_schedule(v)

    @property
    def origin(self) -> str | None:
        """Where the monitor was declared: ``file:line``, or a dbt node; None in Python."""
        return self._origin

    @property
    def source(self) -> str:
        """``yaml``, ``dbt`` or ``python``: recorded in the store's ``monitors.source``."""
        return self._source

    @property
    def fqn(self) -> str:
        """The table as ``schema.table`` (no warehouse prefix), lower case."""
        return self.table.split(":", 1)[-1].lower()

    @property
    def warehouse(self) -> str | None:
        return self.table.split(":", 1)[0] if ":" in self.table else None

    def located(self, origin: str | None, source: str) -> _MonitorBase:
        """Set where this monitor came from (loaders call it); returns self."""
        self._origin = origin
        self._source = source
        return self

    def stored_config(self) -> dict[str, Any]:
        """The JSON stored in the ``monitors`` table and compared by ``plan``."""
        return self.model_dump(mode="json", exclude={"name", "enabled"}, exclude_defaults=True)


class FreshnessMonitor(_MonitorBase):
    """Data must keep arriving: a learned update cadence, or a hard ``sla``.

    >>> FreshnessMonitor(name="f", table="raw.orders", sla="6h").sla
    datetime.timedelta(seconds=21600)
    """

    type: Literal["freshness"] = "freshness"
    sla: Annotated[timedelta | None, Field(json_schema_extra={"examples": ["30m", "6h", "2d"]})] = (
        Field(None, description="alert when older than this; unset: learned cadence")
    )
    timestamp_column: str | None = None

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, v: Any) -> Any:
        return _duration(v)


class VolumeMonitor(_MonitorBase):
    """Rows per time bucket against a learned, seasonal baseline; optional hard floor."""

    type: Literal["volume"] = "volume"
    min_rows: int | None = Field(None, ge=0, description="also a rule: fewer rows fail")
    timestamp_column: str | None = None
    bucket: Literal["hour", "day"] | None = None


class FieldHealthMonitor(_MonitorBase):
    """Per-column null rates, distinct counts and distributions, learned from history."""

    type: Literal["field_health"] = "field_health"
    columns: list[str] = Field(default_factory=list, description="empty: every column")
    metrics: list[FieldMetric] = Field(default_factory=list, description="empty: all")


class CategoricalMonitor(_MonitorBase):
    """New, vanished and shifting values of low-cardinality columns."""

    type: Literal["categorical"] = "categorical"
    columns: list[str] = Field(..., min_length=1)


class CustomSQLMonitor(_MonitorBase):
    """A SELECT returning one number (or one per ``bucket``/``segment``), learned or bounded."""

    type: Literal["custom_sql"] = "custom_sql"
    sql: str = Field(..., min_length=1)
    min: float | None = None
    max: float | None = None


class RuleMonitor(_MonitorBase):
    """A deterministic rule, checked as one exact whole-table query per run.

    ``not_null``/``unique``/``accepted_values``/``range`` need ``column``; ``accepted_values``
    needs ``values``; ``range`` needs ``min`` and/or ``max``; ``row_count_min`` needs
    ``min``; ``relationships`` needs ``to`` (``schema.table``) and ``field``.
    """

    type: Literal["rule"] = "rule"
    rule: RuleName
    column: str | None = None
    values: list[str | int | float | bool] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    to: str | None = Field(None, description="relationships: the parent schema.table")
    field: str | None = Field(None, description="relationships: the parent's key column")
    severity: Literal["low", "medium", "high", "critical"] = "high"

    @model_validator(mode="after")
    def _needs(self) -> RuleMonitor:
        r = self.rule
        if r in ("not_null", "unique", "accepted_values", "range", "relationships") and (
            not self.column
        ):
            raise ValueError(f"rule {r} needs 'column'")
        if r == "accepted_values" and not self.values:
            raise ValueError("rule accepted_values needs 'values'")
        if r == "range" and self.min is None and self.max is None:
            raise ValueError("rule range needs 'min' and/or 'max'")
        if r == "row_count_min" and self.min is None:
            raise ValueError("rule row_count_min needs 'min'")
        if r == "relationships" and not (self.to and self.field):
            raise ValueError("rule relationships needs 'to' (schema.table) and 'field'")
        return self


Monitor = Annotated[
    FreshnessMonitor
    | VolumeMonitor
    | FieldHealthMonitor
    | CategoricalMonitor
    | CustomSQLMonitor
    | RuleMonitor,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Monitor)


def parse_monitor(data: Any) -> _MonitorBase:
    """Validate one monitor from plain data (raises pydantic's ``ValidationError``).

    >>> parse_monitor({"type": "freshness", "name": "f", "table": "raw.orders"}).type
    'freshness'
    """
    return _ADAPTER.validate_python(data)  # type: ignore[no-any-return]


class MonitorsFile(BaseModel):
    """A ``monitors/*.yml`` file: a ``monitors:`` list, as in the project file."""

    model_config = ConfigDict(extra="forbid")

    monitors: list[Monitor] = Field(default_factory=list)


# --------------------------------------------------------------------------- loading


def locate(monitors: Sequence[_MonitorBase], smap: SourceMap, source: str = "yaml") -> None:
    """Record ``file:line`` of each monitor of a ``monitors:`` list read with ``smap``."""
    for i, m in enumerate(monitors):
        m.located(smap.where(("monitors", i)), source)


def duplicate_names(data: Any, smap: SourceMap) -> list[str]:
    """Errors for a ``monitors:`` list (plain data) naming the same monitor twice."""
    seen: dict[str, str] = {}
    out = []
    items = data.get("monitors") if isinstance(data, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        where = smap.where(("monitors", i, "name"))
        if name in seen:
            out.append(
                f"{where}: monitors.{i}.name: duplicate monitor name '{name}' "
                f"(also declared at {seen[name]})"
            )
        else:
            seen[name] = where
    return out


def load_monitor_files(folder: Path) -> list[Any]:
    """Every ``*.yml``/``*.yaml`` in ``folder`` (sorted); errors name each file and line."""
    from tidegauge.config import _format_errors
    from tidegauge.yamlsource import ConfigError, load_yaml

    out: list[Any] = []
    errors: list[str] = []
    if not folder.is_dir():
        return out
    files = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    for path in files:
        data, smap = load_yaml(path)
        if not isinstance(data, dict):
            errors.append(f"{path}:1: a monitors file is a mapping with a 'monitors:' list")
            continue
        errors.extend(duplicate_names(data, smap))
        try:
            parsed = MonitorsFile.model_validate(data)
        except ValidationError as e:
            errors.append(_format_errors(e, smap, MonitorsFile))
            continue
        locate(parsed.monitors, smap)
        out.extend(parsed.monitors)
    if errors:
        raise ConfigError("\n".join(errors))
    return out


def check_unique(monitors: Iterable[_MonitorBase]) -> list[str]:
    """Errors for monitor names declared more than once, naming both places."""
    seen: dict[str, _MonitorBase] = {}
    out = []
    for m in monitors:
        first = seen.get(m.name)
        if first is None:
            seen[m.name] = m
            continue
        out.append(
            f"{m.origin or m.source}: monitor '{m.name}' is declared twice: "
            f"{first.origin or first.source} and {m.origin or m.source}"
        )
    return out


def check_channels(monitors: Iterable[_MonitorBase], channels: Iterable[str]) -> list[str]:
    known = set(channels)
    out = []
    for m in monitors:
        unknown = [c for c in m.channels if c not in known]
        if unknown:
            close = _closest(unknown[0], sorted(known))
            out.append(
                f"{m.origin or m.source}: monitors.{m.name}.channels: unknown channel "
                f"'{unknown[0]}'" + (f"; did you mean '{close}'?" if close else "")
            )
    return out


def _closest(word: str, options: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, options, n=1)
    return found[0] if found else None


# --------------------------------------------------------------------------- dbt


@dataclass
class DbtMonitors:
    """Monitors read from a dbt manifest, and the problems met reading them."""

    monitors: list[_MonitorBase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_DBT_RULES = ("not_null", "unique", "accepted_values", "relationships")
_REF = re.compile(r"""^\s*(ref|source)\(\s*(.+?)\s*\)\s*$""")


def dbt_monitors(dbt: DbtProject) -> DbtMonitors:
    """Monitors from ``meta: {tidegauge: ...}`` on models/sources/seeds, and dbt's generic tests.

    ``meta.tidegauge`` is one monitor mapping, a list of them, or ``{monitors: [...]}``;
    ``table`` defaults to the node's relation and ``name`` to ``<node>_<type>``.
    """
    out = DbtMonitors()
    where = str(dbt.manifest_path)
    relations: dict[str, str] = {}
    by_name: dict[tuple[str, str], str] = {}
    for node in dbt.graph.nodes:
        if node.schema and node.table:
            relations[node.id] = f"{node.schema}.{node.table}"
            rtype = str(node.meta.get("resource_type") or "")
            if rtype == "source":
                by_name[("source", f"{node.meta.get('source_name')}.{node.name}")] = node.id
            else:
                by_name[("ref", node.name)] = node.id
    for node in dbt.graph.nodes:
        raw = node.meta.get("tidegauge")
        if raw is None:
            continue
        at = f"{node.meta.get('path') or where} ({node.id}): meta.tidegauge"
        table = relations.get(node.id)
        items = raw.get("monitors") if isinstance(raw, dict) and "monitors" in raw else raw
        items = items if isinstance(items, list) else [items]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                out.problems.append(f"{at}[{i}]: a monitor is a mapping with a 'type:'")
                continue
            data = dict(item)
            if table and "table" not in data:
                data["table"] = table
            data.setdefault(
                "name",
                f"{node.name}_{data.get('type', 'monitor')}" + (f"_{i}" if len(items) > 1 else ""),
            )
            try:
                m = parse_monitor(data)
            except ValidationError as e:
                for err in e.errors():
                    loc = ".".join(str(p) for p in err["loc"] if p not in MONITOR_TYPES)
                    out.problems.append(f"{at}[{i}]: {loc or '(monitor)'}: {err['msg']}")
                continue
            out.monitors.append(m.located(f"{at}[{i}]", "dbt"))
    for test in dbt.tests:
        if test.test_type not in _DBT_RULES or test.node_id not in relations:
            continue
        params = dict(test.params)
        rule: dict[str, Any] = {
            "type": "rule",
            "rule": test.test_type,
            "name": f"dbt.{test.name}",
            "table": relations[test.node_id],
            "column": test.column,
            "severity": "medium" if test.severity == "warn" else "high",
        }
        if test.test_type == "accepted_values":
            rule["values"] = list(params.get("values") or [])
        if test.test_type == "relationships":
            parent = _resolve_ref(str(params.get("to") or ""), by_name)
            if parent is None or parent not in relations:
                out.problems.append(
                    f"{where} ({test.unique_id}): cannot resolve "
                    f"relationships target {params.get('to')!r}"
                )
                continue
            rule["to"], rule["field"] = relations[parent], params.get("field")
        try:
            m = parse_monitor(rule)
        except ValidationError as e:
            out.problems.append(f"{where} ({test.unique_id}): {e.errors()[0]['msg']}")
            continue
        out.monitors.append(m.located(f"{where} ({test.unique_id})", "dbt"))
    return out


def _resolve_ref(text: str, by_name: dict[tuple[str, str], str]) -> str | None:
    m = _REF.match(text)
    if m is None:
        return None
    args = [a.strip().strip("'\"") for a in m.group(2).split(",")]
    if m.group(1) == "ref":
        return by_name.get(("ref", args[-1]))
    return by_name.get(("source", ".".join(args[-2:]))) if len(args) >= 2 else None


def load_dbt_monitors(project: Project) -> DbtMonitors:
    """Read the project's dbt manifest for monitors; a missing manifest is a problem, not a
    crash (dbt may not have compiled yet)."""
    from tidegauge.integrations.dbt import DbtArtifactError, load_dbt_project

    if project.dbt is None:
        return DbtMonitors()
    path = project.resolve(project.dbt.manifest)
    if not path.exists():
        return DbtMonitors(problems=[f"{path}: dbt manifest not found; dbt monitors skipped"])
    try:
        dbt = load_dbt_project(path, column_level=False, read_siblings=False)
    except DbtArtifactError as e:
        return DbtMonitors(problems=[str(e)])
    return dbt_monitors(dbt)


def declared_monitors(project: Project) -> list[_MonitorBase]:
    """Every monitor of the project: the file's, ``monitors/*.yml``'s and dbt's."""
    return [*project.monitors, *project.dbt_monitors]


# --------------------------------------------------------------------------- translation


_KINDS: dict[str, list[str]] = {
    "freshness": ["freshness"],
    "volume": ["volume", "rule"],
    "field_health": ["null_rate", "distinct", "distribution", "duplicates"],
    "categorical": ["category_new_value", "category_vanished", "category_shift"],
    "custom_sql": ["custom", "rule"],
    "rule": ["rule"],
}


def alert_kinds(m: _MonitorBase) -> list[str]:
    """The alert kinds a monitor's findings carry (breakers and routes match on them)."""
    return list(_KINDS[str(getattr(m, "type"))])  # noqa: B009


def metric_name(m: _MonitorBase) -> str | None:
    """The ``custom:<name>`` series a monitor's own query writes, if it has one."""
    if isinstance(m, CustomSQLMonitor | RuleMonitor) or (
        isinstance(m, VolumeMonitor) and m.min_rows is not None
    ):
        return f"custom:{m.name}"
    return None


def table_settings(m: _MonitorBase) -> dict[str, Any]:
    """The ``tables:`` entry (minus ``match``) a monitor implies for its table."""
    out: dict[str, Any] = {}
    if m.owner:
        out["owner"] = m.owner
    if m.tags:
        out["tags"] = list(m.tags)
    if m.sensitivity:
        out["sensitivity"] = m.sensitivity
    if isinstance(m, FreshnessMonitor):
        if m.sla is not None:
            out["freshness_sla"] = m.sla
        if m.timestamp_column:
            out["timestamp_column"] = m.timestamp_column
    elif isinstance(m, VolumeMonitor):
        if m.timestamp_column:
            out["timestamp_column"] = m.timestamp_column
        if m.bucket:
            out["bucket"] = m.bucket
    elif isinstance(m, FieldHealthMonitor):
        out["field_health"] = True
        if m.metrics:  # compute only what is watched (duplicates come from distinct counts)
            out["metrics"] = sorted(
                {"distinct_count" if x == "duplicate_rate" else x for x in m.metrics}
            )
    elif isinstance(m, CategoricalMonitor):
        out["categorical"] = True
        out["categorical_columns"] = list(m.columns)
    return out


def rule_query(m: _MonitorBase, dialect: str | None) -> tuple[str, float | None, float | None]:
    """The SQL of a rule monitor (a violation count or row count) and its bounds.

    >>> sql, lo, hi = rule_query(RuleMonitor(name="r", table="raw.orders", rule="not_null",
    ...                                      column="id"), "duckdb")
    >>> sql, hi
    ('SELECT COUNT(*) FROM raw.orders WHERE id IS NULL', 0.0)
    """
    from sqlglot import exp

    def table(name: str, alias: str | None = None) -> exp.Table:
        parts = name.split(":", 1)[-1].split(".")
        t = exp.Table(
            this=exp.to_identifier(parts[-1]),
            db=exp.to_identifier(parts[-2]),
            catalog=exp.to_identifier(parts[-3]) if len(parts) > 2 else None,
        )
        return t.as_(alias) if alias else t  # type: ignore[return-value]

    def col(name: str, of: str | None = None) -> exp.Column:
        return exp.column(name, table=of)

    count = exp.Count(this=exp.Star())
    if isinstance(m, VolumeMonitor):
        return exp.select(count).from_(table(m.table)).sql(dialect), float(m.min_rows or 0), None
    assert isinstance(m, RuleMonitor)
    q = exp.select(count).from_(table(m.table))
    c = col(m.column or "")
    if m.rule == "row_count_min":
        return q.sql(dialect), m.min, None
    if m.rule == "not_null":
        q = q.where(exp.Is(this=c, expression=exp.Null()))
    elif m.rule == "unique":
        q = exp.select(
            exp.Sub(
                this=exp.Count(this=c.copy()),
                expression=exp.Count(this=exp.Distinct(expressions=[c.copy()])),
            )
        )
        q = q.from_(table(m.table))
    elif m.rule == "accepted_values":
        values = [exp.Literal.string(str(v)) for v in m.values]
        text = exp.Cast(this=c.copy(), to=exp.DataType.build("text"))
        q = q.where(exp.Not(this=exp.In(this=text, expressions=values))).where(
            exp.Not(this=exp.Is(this=c.copy(), expression=exp.Null()))
        )
    elif m.rule == "range":
        conds: list[exp.Expression] = []
        if m.min is not None:
            conds.append(exp.LT(this=c.copy(), expression=exp.Literal.number(m.min)))
        if m.max is not None:
            conds.append(exp.GT(this=c.copy(), expression=exp.Literal.number(m.max)))
        q = q.where(exp.or_(*conds))
    elif m.rule == "relationships":
        child = col(m.column or "", "c")
        parent = (
            exp.select(exp.Literal.number(1))
            .from_(table(m.to or "", "p"))
            .where(exp.EQ(this=col(m.field or "", "p"), expression=child.copy()))
        )
        q = (
            exp.select(count)
            .from_(table(m.table, "c"))
            .where(exp.Not(this=exp.Is(this=child, expression=exp.Null())))
            .where(exp.Not(this=exp.Exists(this=parent)))
        )
    return q.sql(dialect), None, 0.0


def _dialect(project: Project, m: _MonitorBase) -> str | None:
    wh = m.warehouse
    types = {w.name: w.type for w in project.warehouses}
    if wh and wh in types:
        return str(types[wh])
    return str(project.warehouses[0].type) if project.warehouses else None


def custom_metric(project: Project, m: _MonitorBase) -> CustomMetric | None:
    """The custom SQL metric (with bounds) a monitor writes, if it has one."""
    from tidegauge.config import CustomMetric

    if isinstance(m, CustomSQLMonitor):
        return CustomMetric(
            name=m.name, sql=m.sql, table=m.fqn, warehouse=m.warehouse, min=m.min, max=m.max
        )
    if isinstance(m, RuleMonitor) or (isinstance(m, VolumeMonitor) and m.min_rows is not None):
        sql, lo, hi = rule_query(m, _dialect(project, m))
        return CustomMetric(
            name=m.name, sql=sql, table=m.fqn, warehouse=m.warehouse, min=lo, max=hi
        )
    return None


def route(m: _MonitorBase) -> RouteConfig | None:
    from tidegauge.notifiers.config import RouteConfig

    if not m.channels:
        return None
    return RouteConfig.model_validate(
        {"match": {"table": [m.fqn], "kind": alert_kinds(m)}, "channels": list(m.channels)}
    )


def install(project: Project, monitors: Sequence[_MonitorBase] | None = None) -> None:
    """Translate ``monitors`` (default: every declared one) into the project's per-table
    settings, custom metrics and routes, so that ``run`` honours them.

    Idempotent: the entries the user wrote are kept aside and the derived ones are rebuilt
    after them (later ``tables:`` entries win, so a monitor overrides a glob).
    """
    from tidegauge.config import TableSettings

    base = project.user_config()
    ms = [m for m in (declared_monitors(project) if monitors is None else monitors) if m.enabled]
    tables: list[TableSettings] = []
    metrics: list[CustomMetric] = []
    routes: list[RouteConfig] = []
    for m in ms:
        settings = table_settings(m)
        if settings:
            tables.append(TableSettings.model_validate({"match": m.fqn, **settings}))
        metric = custom_metric(project, m)
        if metric is not None:
            metrics.append(metric)
        r = route(m)
        if r is not None:
            routes.append(r)
    project.tables = [*base.tables, *tables]
    project.metrics = [*base.metrics, *metrics]
    project.routes = [*base.routes, *routes]


def monitor_for_alert(
    monitors: Sequence[_MonitorBase], fqn: str, kind: str, metric: str
) -> _MonitorBase | None:
    """The declared monitor an alert of ``fqn`` comes from (best match), if any."""
    fqn = fqn.lower()
    mine = [m for m in monitors if m.enabled and m.fqn == fqn]
    if metric.startswith(("rule:", "custom:")):
        name = metric.split(":", 1)[1]
        for m in mine:
            if m.name == name:
                return m
    for m in mine:
        if kind in alert_kinds(m) and not isinstance(m, RuleMonitor | CustomSQLMonitor):
            return m
    return None

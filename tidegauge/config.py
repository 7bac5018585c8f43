"""The project file ``tidegauge.yml`` as pydantic models.

Every extension point is one discriminated union on ``type:``. Errors name the file,
the line and the key, and suggest the closest valid key for a typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tidegauge.core.calendar import DEFAULT_FLOOR, SpecialDays, check_country, zone
from tidegauge.core.calendar import special_days as build_special_days
from tidegauge.core.units import parse_duration
from tidegauge.monitors import MONITOR_TYPES, Monitor, MonitorBase
from tidegauge.monitors import route as monitor_route
from tidegauge.notifiers.config import (
    Channel,
    NotificationsConfig,
    RouteConfig,
    check_references,
)
from tidegauge.store.location import DEFAULT_STORE_URL, resolve_store_url
from tidegauge.streams.config import Streams
from tidegauge.warehouses.base import WarehouseConfigBase, WarehouseError
from tidegauge.warehouses.duckdb import DuckDBWarehouseConfig
from tidegauge.warehouses.registry import (
    WAREHOUSES,
    builtin_config_classes,
    config_class,
    known_types,
)
from tidegauge.yamlsource import ConfigError, SourceMap, format_errors, load_yaml

if TYPE_CHECKING:
    from tidegauge.monitors import _MonitorBase

__all__ = [
    "ConfigError",
    "Project",
    "TableSettings",
    "load_project",
    "parse_duration",
]


#: the tag of an engine registered through the ``tidegauge.warehouses`` entry points
_EXTERNAL = "external"


def _warehouse_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return str(kind) if kind in WAREHOUSES else _EXTERNAL


def _external_warehouse(value: Any) -> WarehouseConfigBase:
    """A ``warehouses:`` entry of a type the registry finds through entry points."""
    if isinstance(value, WarehouseConfigBase):
        return value
    if not isinstance(value, dict) or not value.get("type"):
        raise ValueError(f"a warehouse needs a 'type:' (one of {', '.join(known_types())})")
    try:
        model = config_class(str(value["type"]))
    except WarehouseError as e:
        raise ValueError(str(e)) from None
    try:
        return model.model_validate(value)
    except ValidationError as e:
        raise ValueError(
            "; ".join(f"{'.'.join(str(p) for p in x['loc'])}: {x['msg']}" for x in e.errors())
        ) from None


if TYPE_CHECKING:
    WarehouseConfig = WarehouseConfigBase
else:
    # One tagged branch per built-in engine (so errors point at the exact key), and one for
    # engines plugged in through entry points: validated by their own adapter's CONFIG.
    _BRANCHES = (
        *(Annotated[c, Tag(k)] for k, c in builtin_config_classes().items()),
        Annotated[WarehouseConfigBase, PlainValidator(_external_warehouse), Tag(_EXTERNAL)],
    )
    WarehouseConfig = Annotated[
        Union[_BRANCHES],  # noqa: UP007 -- built from the registry at run time
        Discriminator(_warehouse_tag),
    ]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def seconds(self) -> int:
        return 3600 if self is Bucket.HOUR else 86400


Duration = Annotated[timedelta, Field(json_schema_extra={"examples": ["30m", "6h", "2d"]})]


class RetentionConfig(Strict):
    """How long metric history is kept: what ``tidegauge store prune`` applies by default."""

    fine_days: int = Field(120, ge=1, description="keep finer-than-daily points this long")
    keep_days: int | None = Field(
        730, ge=1, description="delete every point older than this (null: keep forever)"
    )


class StoreConfig(Strict):
    url: str = Field(DEFAULT_STORE_URL, description="SQLAlchemy URL of the metadata store")
    retention: RetentionConfig = Field(default_factory=RetentionConfig)


class CustomMetric(Strict):
    """A SELECT returning one number, or one per bucket (``bucket`` column) or segment."""

    name: str
    sql: str
    table: str | None = Field(None, description="schema.table the metric belongs to")
    warehouse: str | None = None
    min: float | None = None
    max: float | None = None

    #: a monitor's query as a sqlglot tree, rendered by the warehouse that runs it (``sql``
    #: is then only its generic rendering, for display)
    _query: Any = PrivateAttr(default=None)

    @property
    def query(self) -> Any:
        """The sqlglot tree to run instead of parsing ``sql``; None for the user's SQL."""
        return self._query

    def set_query(self, tree: Any) -> None:
        self._query = tree

    @classmethod
    def of_monitor(cls, m: MonitorBase) -> CustomMetric | None:
        """The custom metric (with bounds) a monitor's own query writes, if it has one. A
        sqlglot tree rides along unrendered: the collector has the table's own warehouse
        render it (``sql`` is then its generic rendering, for display)."""
        own = m.own_query()
        if own is None:
            return None
        text = own.sql if own.sql is not None else own.tree.sql() if own.tree is not None else ""
        metric = cls(
            name=m.name, sql=text, table=m.fqn, warehouse=m.warehouse, min=own.min, max=own.max
        )
        metric.set_query(own.tree)
        return metric


class DateRange(Strict):
    """Consecutive special days, both ends included (e.g. a year-end shutdown)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        if (self.end - self.start).days >= 366:
            raise ValueError("a range of special days covers at most 366 days")
        return self


class CalendarConfig(Strict):
    """Special days (public holidays, shutdowns): they never train a baseline, and a metric
    may go quieter on them (``expect``) without alerting unless it falls below ``floor``
    of its usual level. Written in ``defaults:``; a ``tables:`` entry's keys replace these
    (``calendar: false`` turns it off for a table)."""

    enabled: bool = True
    country: str | None = Field(
        None, description="ISO 3166 code whose public holidays count (e.g. US, GB, DE)"
    )
    subdivision: str | None = Field(None, description="state or province, e.g. CA or BY")
    dates: list[date] = Field(default_factory=list, description="more special days")
    ranges: list[DateRange] = Field(default_factory=list, description="runs of special days")
    timezone: str = Field("UTC", description="the zone special days are local dates in")
    expect: Literal["down", "up", "both"] = Field(
        "down", description="which way a special day may move without alerting"
    )
    floor: float = Field(
        DEFAULT_FLOOR,
        ge=0,
        lt=1,
        description="a special day still alerts when clearly below this share of normal",
    )

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        return None if v is None else check_country(v)

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, v: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if v is not None and country:  # without a country here, the project's applies
            check_country(country, v)
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        zone(v)
        return v

    def special_days(self, start: datetime, end: datetime) -> SpecialDays:
        """The plain dates between ``start`` and ``end`` (a year of margin each side)."""
        if self.subdivision and not self.country:
            raise ConfigError(f"calendar: subdivision '{self.subdivision}' needs a country")
        return build_special_days(
            years=range(start.year - 1, end.year + 2),
            country=self.country,
            subdivision=self.subdivision,
            dates=self.dates,
            ranges=[(r.start, r.end) for r in self.ranges],
            timezone=self.timezone,
            expect=self.expect,
            floor=self.floor,
        )


class TableSettings(Strict):
    """Per-table settings; ``match`` is a ``schema.table`` glob. Later entries win."""

    match: str = "*"
    timestamp_column: str | None = None
    bucket: Bucket | None = None
    history_days: int | None = Field(None, ge=1, le=3650)
    field_health: bool | None = None
    categorical: bool | None = None
    categorical_columns: list[str] | None = None
    exclude_columns: list[str] = Field(default_factory=list)
    metrics: list[str] | None = Field(
        None, description="field-health metrics to compute (default: all for each type)"
    )
    pii_columns: list[str] = Field(default_factory=list, description="values never stored")
    references: dict[str, str] = Field(
        default_factory=dict,
        description="column: its parent as schema.table.column; the share of non-null "
        "values with no parent row (orphan_rate) is tracked per bucket",
    )
    keys: dict[str, bool] = Field(
        default_factory=dict,
        description="column: true makes it a key (duplicates counted per bucket and "
        "alerted on); false says it is no longer one, on purpose (declared keys and dbt "
        "unique tests included). Entries of matching tables: merge, later ones win.",
    )
    segments: list[list[str]] = Field(default_factory=list, description="up to 2 columns each")
    max_segments: int | None = None
    sample_percent: float | None = Field(None, gt=0, le=100)
    freshness_sla: Duration | None = None
    row_count_min: int | None = None
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    sensitivity: Literal["low", "medium", "high"] | None = None
    calendar: CalendarConfig | None = Field(
        None, description="keys replace the project calendar's; false: no special days"
    )

    @field_validator("calendar", mode="before")
    @classmethod
    def _calendar_off(cls, v: Any) -> Any:
        return {"enabled": False} if v is False else v

    @field_validator("freshness_sla", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: list[str] | None) -> list[str] | None:
        from tidegauge.core.metrics import FIELD_METRICS

        for name in v or []:
            if name not in FIELD_METRICS:
                close = difflib.get_close_matches(name, FIELD_METRICS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ValueError(f"unknown metric '{name}'{hint}")
        return v

    @field_validator("segments")
    @classmethod
    def _two_columns(cls, v: list[list[str]]) -> list[list[str]]:
        for seg in v:
            if not 1 <= len(seg) <= 2:
                raise ValueError("a segment groups by one or two columns")
        return v


class Defaults(Strict):
    """Settings that apply to every table unless a ``tables:`` entry overrides them."""

    bucket: Bucket = Bucket.HOUR
    history_days: int = Field(30, ge=1, le=3650, description="backfill on a table's first run")
    recheck_buckets: int = Field(3, ge=0, description="recent buckets re-collected for late rows")
    field_health_max_rows: int = Field(
        50_000_000, description="field health and categorical metrics only below this size"
    )
    categorical_max_distinct: int = Field(100, ge=1, le=10_000)
    categorical_top_k: int = Field(50, ge=1, le=1000)
    max_segments: int = Field(50, ge=1)
    sensitivity: Literal["low", "medium", "high"] = "medium"
    time_budget_seconds: float | None = Field(None, description="per-table collection budget")
    calendar: CalendarConfig | None = Field(None, description="holidays and other special days")


class DbtConfig(Strict):
    manifest: str = Field(..., description="path to manifest.json; artefacts beside it are read")


class OpenLineageConfig(Strict):
    url: str | None = Field(None, description="emit tidegauge runs as OpenLineage events here")
    namespace: str = "tidegauge"
    api_key: str | None = None


class WebConfig(Strict):
    base_url: str = Field("http://127.0.0.1:8765", description="used in links in notifications")
    read_tokens: list[str] = Field(default_factory=list)
    admin_tokens: list[str] = Field(default_factory=list)


class ExecutionConfig(Strict):
    """Where per-table work runs: in this process (``local``), as Celery tasks that
    workers started with ``tidegauge worker`` take from a broker (``celery``), or as ops of a
    Dagster job, a chunk per op, in Dagster's multiprocess executor (``dagster``)."""

    type: Literal["local", "celery", "dagster"] = "local"
    broker: str = Field(
        "redis://127.0.0.1:6379/0", description="Celery broker URL: redis://… or amqp://…"
    )
    result_backend: str | None = Field(
        None,
        description="where workers put chunk results (default: the Redis broker, "
        "or rpc:// for an AMQP broker)",
    )
    queue: str = Field("tidegauge", min_length=1, description="the queue workers listen on")
    chunk_size: int = Field(200, ge=1, le=100_000, description="tables per task")
    timeout: Duration = Field(
        timedelta(hours=1), description="how long a run waits for all its chunks"
    )
    retries: int = Field(1, ge=0, le=5, description="re-sends of a chunk whose task failed")
    max_concurrent: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="dagster: chunks run at once, each in its own process (default: CPUs)",
    )
    detect: Literal["coordinator", "workers"] = Field(
        "coordinator",
        description="coordinator: detection over all tables at once, as one process does "
        "(the same false-discovery-rate family); workers: each chunk detects its own tables",
    )

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v)

    @field_validator("broker", "result_backend")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError(f"'{v}' is not a URL (e.g. redis://127.0.0.1:6379/0)")
        return v


class UserConfig(NamedTuple):
    """The ``tables:``, ``metrics:`` and ``routes:`` as written, before monitors add theirs."""

    tables: list[TableSettings]
    metrics: list[CustomMetric]
    routes: list[RouteConfig]


class Project(Strict):
    """The whole project file."""

    name: str = "tidegauge"
    warehouses: list[WarehouseConfig] = Field(default_factory=list)
    store: StoreConfig = Field(default_factory=lambda: StoreConfig())
    defaults: Defaults = Field(default_factory=lambda: Defaults())
    tables: list[TableSettings] = Field(default_factory=list)
    metrics: list[CustomMetric] = Field(default_factory=list)
    dbt: DbtConfig | None = None
    openlineage: OpenLineageConfig = Field(default_factory=lambda: OpenLineageConfig())
    web: WebConfig = Field(default_factory=lambda: WebConfig())
    channels: list[Channel] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    default_channel: str | None = Field(None, description="where unrouted incidents go")
    monitors: list[Monitor] = Field(
        default_factory=list,
        description="declared monitors (also read from monitors/*.yml beside this file)",
    )
    execution: ExecutionConfig = Field(
        default_factory=lambda: ExecutionConfig(),
        description="where per-table work runs: this process, or Celery workers (fan-out)",
    )
    streams: Streams = Field(default_factory=list, description="Kafka topics and groups")

    #: folder of the project file; relative paths are resolved against it
    root: Path = Field(
        default_factory=Path.cwd,
        exclude=True,
        description="folder of the project file; set by the loader, not written by hand",
    )

    _user: UserConfig | None = PrivateAttr(default=None)
    _dbt_monitors: list[Any] = PrivateAttr(default_factory=list)
    _monitor_warnings: list[str] = PrivateAttr(default_factory=list)
    #: the file the project was loaded from (fan-out workers load it again)
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _retention_keeps_detection_history(self) -> Project:
        from tidegauge.store.retention import Retention

        r = self.store.retention
        try:
            Retention(r.fine_days, r.keep_days).validate(self.defaults.history_days)
        except ConfigError as e:
            raise ValueError(f"store.retention: {e}") from None
        return self

    @model_validator(mode="after")
    def _channel_references(self) -> Project:
        check_references(list(self.channels), self.routes, self.default_channel)
        return self

    @model_validator(mode="after")
    def _install_monitors(self) -> Project:
        # declared monitors become tables:/metrics:/routes: entries the run already reads
        self._user = UserConfig(list(self.tables), list(self.metrics), list(self.routes))
        self.install_monitors([*self.monitors, *self._dbt_monitors])
        return self

    def monitor_metric(self, m: MonitorBase) -> CustomMetric | None:
        """The custom metric a monitor's own query writes, if it has one."""
        return CustomMetric.of_monitor(m)

    def install_monitors(self, monitors: Sequence[MonitorBase]) -> None:
        """Translate the enabled ``monitors`` into per-table settings, custom metrics and
        routes, so that ``run`` honours them (each monitor says what it implies).

        Idempotent: the entries the user wrote are kept aside and the derived ones are rebuilt
        after them (later ``tables:`` entries win, so a monitor overrides a glob).
        """
        base = self.user_config()
        tables: list[TableSettings] = []
        metrics: list[CustomMetric] = []
        routes: list[RouteConfig] = []
        for m in monitors:
            if not m.enabled:
                continue
            settings = m.table_settings()
            if settings:
                tables.append(TableSettings.model_validate({"match": m.fqn, **settings}))
            metric = CustomMetric.of_monitor(m)
            if metric is not None:
                metrics.append(metric)
            r = monitor_route(m)
            if r is not None:
                routes.append(r)
        self.tables = [*base.tables, *tables]
        self.metrics = [*base.metrics, *metrics]
        self.routes = [*base.routes, *routes]

    @property
    def source(self) -> Path | None:
        """The project file this was loaded from; None for a project built in code."""
        return self._source

    def user_config(self) -> UserConfig:
        """``tables:``, ``metrics:`` and ``routes:`` as declared, without monitor entries."""
        if self._user is None:
            self._user = UserConfig(list(self.tables), list(self.metrics), list(self.routes))
        return self._user

    @property
    def dbt_monitors(self) -> list[_MonitorBase]:
        """Monitors read from the dbt manifest (``meta.tidegauge`` and generic tests)."""
        return list(self._dbt_monitors)

    @property
    def monitor_warnings(self) -> list[str]:
        """Problems met loading monitors that did not stop loading (e.g. no dbt manifest)."""
        return list(self._monitor_warnings)

    def set_dbt_monitors(self, monitors: list[_MonitorBase], warnings: list[str]) -> None:
        self._dbt_monitors = list(monitors)
        self._monitor_warnings = list(warnings)

    def notifications(self) -> NotificationsConfig:
        return NotificationsConfig.model_construct(
            channels=self.channels, routes=self.routes, default_channel=self.default_channel
        )

    @field_validator("warehouses")
    @classmethod
    def _unique_names(cls, v: list[Any]) -> list[Any]:
        names = [w.name for w in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate warehouse name(s): {', '.join(dupes)}")
        return v

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.root / p

    def settings_for(self, fqn: str) -> TableSettings:
        """Merge every ``tables:`` entry whose glob matches ``schema.table``."""
        merged: dict[str, Any] = {}
        keys: dict[str, bool] = {}
        references: dict[str, str] = {}
        for entry in self.tables:
            if fnmatchcase(fqn.lower(), entry.match.lower()):
                merged.update(entry.model_dump(exclude_unset=True))
                references.update(entry.references)
                # a key switched off for one table must not switch off the glob's others
                for k, v in entry.keys.items():
                    # false is said on purpose: it wins over a declared key or a dbt test
                    keys[k.lower()] = keys.get(k.lower(), True) and v
        merged["keys"] = keys
        merged["references"] = references
        merged["match"] = fqn
        return TableSettings.model_validate(merged)

    def calendar_for(self, settings: TableSettings) -> CalendarConfig | None:
        """The table's calendar: ``defaults.calendar`` with the table's own keys on top."""
        base, own = self.defaults.calendar, settings.calendar
        if own is None:
            return base if base is not None and base.enabled else None
        merged = base.model_dump(exclude_unset=True) if base is not None else {}
        if "country" in own.model_fields_set:  # another country: not the project's state
            merged.pop("subdivision", None)
        merged.update(own.model_dump(exclude_unset=True))
        try:
            chosen = CalendarConfig.model_validate(merged)
        except ValidationError as e:
            raise ConfigError(f"calendar of {settings.match}: {e.errors()[0]['msg']}") from None
        return chosen if chosen.enabled else None

    def special_days(
        self, settings: TableSettings, start: datetime, end: datetime
    ) -> SpecialDays | None:
        """The table's special days as plain dates for a detector, or None without any."""
        cal = self.calendar_for(settings)
        return None if cal is None else cal.special_days(start, end)

    def warehouse(self, name: str) -> Any:
        for w in self.warehouses:
            if w.name == name:
                return w
        raise ConfigError(f"no warehouse named '{name}'")

    def store_url(self) -> str:
        """The store URL with a relative SQLite path resolved against the project folder."""
        return resolve_store_url(self.store.url, self.root)


_TAGS = {
    *WAREHOUSES,
    _EXTERNAL,
    "slack",
    "teams",
    "pagerduty",
    "opsgenie",
    "email",
    "webhook",
    *MONITOR_TYPES,
}


def _format_errors(err: ValidationError, smap: SourceMap, model: type[BaseModel]) -> str:
    return format_errors(err, smap, model, _TAGS)


def parse_project(data: Any, smap: SourceMap) -> Project:
    if not isinstance(data, dict):
        raise ConfigError(f"{smap.path}:1: the project file must be a mapping of keys")
    from tidegauge.monitors import duplicate_names, locate

    dupes = duplicate_names(data, smap)
    if dupes:
        raise ConfigError("\n".join(dupes))
    try:
        project = Project.model_validate({**data, "root": smap.path.parent.resolve()})
    except ValidationError as e:
        raise ConfigError(_format_errors(e, smap, Project)) from None
    locate(project.monitors, smap)
    project._source = smap.path.resolve()
    for w in project.warehouses:
        if isinstance(w, DuckDBWarehouseConfig) and w.path != ":memory:":
            w.path = str(project.resolve(w.path))
    return project


def load_project(path: str | Path | None = None) -> Project:
    """Load and validate a project file (default: ``./tidegauge.yml``).

    >>> from pathlib import Path
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> text = "warehouses:\\n  - type: duckdb\\n    path: w.duckdb\\n"
    >>> _ = (d / "tidegauge.yml").write_text(text)
    >>> load_project(d / "tidegauge.yml").warehouses[0].name
    'main'
    """
    p = Path(path) if path is not None else Path("tidegauge.yml")
    if p.is_dir():
        p = p / "tidegauge.yml"
    data, smap = load_yaml(p)
    project = parse_project(data, smap)
    load_monitors(project, p.parent / "monitors")
    return project


def load_monitors(project: Project, folder: Path | None = None) -> None:
    """Add ``folder/*.yml`` monitors and the dbt manifest's, check names and channels, and
    translate them all into the settings the run reads. Errors name file and line."""
    from tidegauge.monitors import (
        check_channels,
        check_unique,
        install,
        load_dbt_monitors,
        load_monitor_files,
    )

    if folder is not None:
        project.monitors = [*project.monitors, *load_monitor_files(folder)]
    dbt = load_dbt_monitors(project)
    project.set_dbt_monitors(dbt.monitors, dbt.problems)
    everything = [*project.monitors, *dbt.monitors]
    errors = check_unique(everything) + check_channels(
        everything, [c.name for c in project.channels]
    )
    if errors:
        raise ConfigError("\n".join(errors))
    install(project)

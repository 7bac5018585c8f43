"""The whole project file as one model, :class:`Project`: its sections, the monitors it
declares turned into the table settings, metrics and routes a run reads, and the lookups a
run makes (a table's merged settings, its calendar, a warehouse by name)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from tidegauge.config.base import Strict
from tidegauge.config.calendar import CalendarConfig
from tidegauge.config.sections import (
    DbtConfig,
    ExecutionConfig,
    OpenLineageConfig,
    StoreConfig,
    WarehouseConfig,
    WebConfig,
)
from tidegauge.config.tables import CustomMetric, Defaults, TableSettings
from tidegauge.core.calendar import SpecialDays
from tidegauge.monitors import Monitor, MonitorBase
from tidegauge.monitors import route as monitor_route
from tidegauge.notifiers.config import (
    Channel,
    NotificationsConfig,
    RouteConfig,
    check_references,
)
from tidegauge.store.location import resolve_store_url
from tidegauge.streams.config import Streams
from tidegauge.yamlsource import ConfigError

if TYPE_CHECKING:
    from tidegauge.monitors import _MonitorBase


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
        from tidegauge.store.retention_policy import Retention  # no store stack

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

"""The Python SDK: open a project and its store, run monitors, read alerts and incidents,
plan and apply declared monitors, and stop a pipeline with a circuit breaker.

>>> import tidegauge
>>> with tidegauge.Tidegauge(tidegauge.Project(store={"url": "sqlite://"})) as tg:
...     tg.add_monitor(tidegauge.VolumeMonitor(name="orders_volume", table="raw.orders"))
...     [m.name for m in tg.monitors()]
['orders_volume']

Breaker levels: ``warn`` trips on an open alert of severity ``medium`` or above, ``block``
on ``high`` or above. An alert is open when it belongs to an open incident (open,
acknowledged, investigating) and no one marked it ``expected`` or ``false_positive``. A
declared monitor's ``severity`` replaces the detector's for the alerts it owns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.monitors import _MonitorBase
    from tidegauge.steps.context import RunReport
    from tidegauge.store.store import Store, StoredTable

log = logging.getLogger("tidegauge.sdk")

__all__ = [
    "BreakerCheck",
    "BreakerLevel",
    "BreakerResult",
    "BreakerTripped",
    "Plan",
    "PlannedChange",
    "Tidegauge",
    "apply_plan",
    "check_breaker",
    "compute_plan",
]

#: sources of monitors that ``apply`` owns in the store (others are left alone)
MANAGED_SOURCES = ("yaml", "dbt", "python")


# --------------------------------------------------------------------------- breakers


class BreakerLevel(StrEnum):
    """``warn`` trips on medium+ open alerts, ``block`` on high+."""

    WARN = "warn"
    BLOCK = "block"

    @property
    def min_severity(self) -> str:
        return "medium" if self is BreakerLevel.WARN else "high"


_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass
class BreakerCheck:
    """The verdict on one table: ``ok`` is None when tidegauge could not answer."""

    table: str
    ok: bool | None
    reasons: list[str] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    age_seconds: float | None = None
    error: str | None = None


@dataclass
class BreakerResult:
    """Every table's verdict; ``tripped`` says whether the pipeline must stop."""

    level: BreakerLevel
    max_age: timedelta | None
    fail_open: bool
    checks: list[BreakerCheck]
    at: datetime

    @property
    def unanswered(self) -> list[BreakerCheck]:
        return [c for c in self.checks if c.ok is None]

    @property
    def tripped(self) -> bool:
        if any(c.ok is False for c in self.checks):
            return True
        return bool(self.unanswered) and not self.fail_open

    def summary(self) -> str:
        lines = []
        for c in self.checks:
            state = {True: "ok", False: "TRIPPED", None: "UNKNOWN"}[c.ok]
            detail = "; ".join(c.reasons) or (c.error or "")
            lines.append(f"{c.table}: {state}" + (f" — {detail}" if detail else ""))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tripped": self.tripped,
            "level": self.level.value,
            "min_severity": self.level.min_severity,
            "max_age_seconds": self.max_age.total_seconds() if self.max_age else None,
            "fail_open": self.fail_open,
            "at": self.at.isoformat(),
            "tables": [
                {**asdict(c), "alerts": [_alert_brief(a) for a in c.alerts]} for c in self.checks
            ],
        }


class BreakerTripped(RuntimeError):
    """Raised by :meth:`Tidegauge.breaker` when the pipeline must stop; ``.result`` says why."""

    def __init__(self, result: BreakerResult) -> None:
        super().__init__(result.summary())
        self.result = result


def _alert_brief(a: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "kind",
        "metric",
        "column",
        "severity",
        "declared_severity",
        "monitor",
        "title",
        "incident_id",
        "data_time",
    )
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in a.items() if k in keys}


def open_alerts(store: Store, table_id: int) -> list[dict[str, Any]]:
    """Alerts of a table in an open incident and not marked expected / false positive."""
    return store.alerts.in_open_incidents(table_id)


def check_breaker(
    store: Store | None,
    tables: Sequence[str],
    *,
    level: BreakerLevel | str = BreakerLevel.BLOCK,
    max_age: timedelta | str | None = None,
    fail_open: bool | None = None,
    now: datetime | None = None,
    monitors: Sequence[_MonitorBase] = (),
    store_error: str | None = None,
) -> BreakerResult:
    """Judge ``tables``; never raises for tidegauge's own failures (see ``fail_open``).

    Args:
        store: the open store, or None when it could not be opened (``store_error`` says why).
        tables: ``schema.table`` (or ``warehouse:schema.table``) names.
        level: ``warn`` (medium+ alerts trip) or ``block`` (high+).
        max_age: trip when the newest data is older than this (``6h``, ``2d``...).
        fail_open: when a table cannot be judged, pass (True) or trip (False); default
            fail-closed for ``block`` and fail-open for ``warn``.
        now: the moment of the check (default: now).
        monitors: declared monitors; their ``severity`` replaces the detector's.
    """
    from tidegauge.config import parse_duration
    from tidegauge.monitors import monitor_for_alert

    lvl = BreakerLevel(level)
    age_limit = parse_duration(max_age) if isinstance(max_age, str) else max_age
    opened = lvl is BreakerLevel.WARN if fail_open is None else fail_open
    at = now or datetime.now(UTC)
    checks: list[BreakerCheck] = []
    for name in tables:
        if store is None:
            checks.append(BreakerCheck(name, None, error=store_error or "store unavailable"))
            continue
        try:
            checks.append(_check_one(store, name, lvl, age_limit, at, monitors, monitor_for_alert))
        except Exception as e:  # the store failing mid-check is "cannot answer", not a crash
            log.warning("breaker could not judge %s: %s", name, e)
            checks.append(BreakerCheck(name, None, error=f"{type(e).__name__}: {e}"))
    return BreakerResult(lvl, age_limit, opened, checks, at)


def _check_one(
    store: Store,
    name: str,
    lvl: BreakerLevel,
    age_limit: timedelta | None,
    at: datetime,
    monitors: Sequence[_MonitorBase],
    owner_of: Any,
) -> BreakerCheck:
    t = store.find_table(name)
    if t is None:
        return BreakerCheck(
            name,
            None,
            error=f"table {name} is not known to tidegauge "
            "(misspelt, ambiguous, or not collected yet)",
        )
    check = BreakerCheck(t.ref.fqn, True)
    floor = _RANK[lvl.min_severity]
    for a in open_alerts(store, t.id):
        m = owner_of(monitors, t.ref.fqn, a["kind"], a["metric"])
        sev = m.severity if m is not None else a["severity"]
        if _RANK.get(sev, 0) < floor:
            continue
        a["declared_severity"] = sev
        a["monitor"] = m.name if m is not None else None
        check.alerts.append(a)
    if check.alerts:
        check.ok = False
        first = check.alerts[0]
        check.reasons.append(
            f"{len(check.alerts)} open alert(s) at {lvl.min_severity} or above, e.g. "
            f"{first['title']} ({first['declared_severity']})"
        )
    if age_limit is not None:
        from tidegauge.store.activity import latest_data_time

        last = latest_data_time(store, t.id)
        if last is None:
            check.reasons.append("no freshness data stored")
            if check.ok:
                check.ok = None
                check.error = "no freshness data stored for this table"
        else:
            check.age_seconds = (at - last).total_seconds()
            if at - last > age_limit:
                check.ok = False
                check.reasons.append(
                    f"data is {check.age_seconds / 3600:.1f} h old (newest "
                    f"{last:%Y-%m-%d %H:%M} UTC), over the "
                    f"{age_limit.total_seconds() / 3600:.1f} h allowed"
                )
    return check


# --------------------------------------------------------------------------- plan / apply


@dataclass
class PlannedChange:
    """One monitor to create, change or delete in the store."""

    action: Literal["create", "change", "delete"]
    name: str
    kind: str
    table: str | None
    source: str
    origin: str | None = None
    changes: dict[str, list[Any]] = field(default_factory=dict)
    backtest: dict[str, Any] | None = None


@dataclass
class Plan:
    """What ``apply`` would do; ``empty`` when the store already matches the files."""

    changes: list[PlannedChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def as_dict(self) -> dict[str, Any]:
        return {
            "create": self.count("create"),
            "change": self.count("change"),
            "delete": self.count("delete"),
            "unchanged": len(self.unchanged),
            "changes": [asdict(c) for c in self.changes],
            "warnings": list(self.warnings),
        }


def _stored_monitors(store: Store) -> dict[str, dict[str, Any]]:
    from tidegauge.store import monitors as stored

    return stored.by_name(store)


def _warehouse_tables(project: Project) -> tuple[set[str], list[str]]:
    """Lower-case ``schema.table`` and ``warehouse:schema.table`` of every warehouse table."""
    from tidegauge.steps.discover import connect
    from tidegauge.warehouses.base import WarehouseError

    names: set[str] = set()
    problems = []
    for cfg in project.warehouses:
        try:
            wh = connect(cfg)
            try:
                for info in wh.list_tables():
                    names.update({info.ref.fqn.lower(), info.ref.key.lower()})
            finally:
                wh.close()
        except WarehouseError as e:
            problems.append(f"warehouse '{cfg.name}' unreachable, tables not checked: {e}")
    return names, problems


def compute_plan(
    project: Project, store: Store, *, backtest_days: float = 90, backtests: bool = True
) -> Plan:
    """Diff the declared monitors (files, Python, dbt) against the store's ``monitors``."""
    from tidegauge.monitors import declared_monitors

    plan = Plan(warnings=list(project.monitor_warnings))
    stored = _stored_monitors(store)
    declared = declared_monitors(project)
    warehouse_names: set[str] | None = None
    for m in declared:
        t = store.find_table(m.table)
        if t is None:
            if warehouse_names is None:
                warehouse_names, problems = _warehouse_tables(project)
                plan.warnings.extend(problems)
            where = f" ({m.origin})" if m.origin else ""
            if m.table.lower() in warehouse_names:
                plan.warnings.append(
                    f"monitor '{m.name}'{where}: table {m.table} has no "
                    "history yet (run `tidegauge run`)"
                )
            else:
                plan.warnings.append(
                    f"monitor '{m.name}'{where}: table {m.table} does not exist in any warehouse"
                )
        kind = m.kind
        want = {
            "kind": kind,
            "table_id": t.id if t else None,
            "config": m.stored_config(),
            "source": m.source,
            "enabled": m.enabled,
        }
        have = stored.get(m.name)
        if have is None:
            change = PlannedChange("create", m.name, kind, m.table, m.source, m.origin)
        else:
            diff = {
                k: [_plain(have[k]), _plain(v)]
                for k, v in want.items()
                if _plain(have[k]) != _plain(v)
            }
            if not diff:
                plan.unchanged.append(m.name)
                continue
            change = PlannedChange("change", m.name, kind, m.table, m.source, m.origin, diff)
        if backtests and t is not None and m.enabled:
            change.backtest = predict(project, store, t, m, backtest_days)
        plan.changes.append(change)
    names = {m.name for m in declared}
    for name, row in sorted(stored.items()):
        if name not in names and row["source"] in MANAGED_SOURCES:
            t = store.table(row["table_id"]) if row["table_id"] else None
            plan.changes.append(
                PlannedChange(
                    "delete",
                    name,
                    row["kind"],
                    t.ref.fqn if t else row["config"].get("table"),
                    row["source"],
                )
            )
    return plan


def _plain(v: Any) -> Any:
    return json.loads(json.dumps(v, default=str, sort_keys=True))


def apply_plan(
    project: Project, store: Store, plan: Plan | None = None, now: datetime | None = None
) -> Plan:
    """Make the store's ``monitors`` match the declared ones; idempotent."""
    from tidegauge.monitors import declared_monitors
    from tidegauge.store import monitors as stored

    plan = plan or compute_plan(project, store, backtests=False)
    at = now or datetime.now(UTC)
    by_name = {m.name: m for m in declared_monitors(project)}
    changes: list[stored.Change] = []
    for ch in plan.changes:
        if ch.action == "delete":
            changes.append((ch.name, "delete", None))
            continue
        m = by_name[ch.name]
        t = store.find_table(m.table)
        values = {
            "kind": ch.kind,
            "table_id": t.id if t else None,
            "config": m.stored_config(),
            "source": m.source,
            "enabled": m.enabled,
            "updated_at": at,
        }
        changes.append((m.name, "create" if ch.action == "create" else "update", values))
    stored.apply(store, changes, at)
    return plan


# --------------------------------------------------------------------------- backtests


def predict(
    project: Project, store: Store, table: StoredTable, m: _MonitorBase, days: float = 90
) -> dict[str, Any] | None:
    """Predicted alerts per week of a monitor, replayed over the stored history (each
    monitor type owns its replay: :meth:`~tidegauge.monitors.MonitorBase.backtest`)."""
    from tidegauge.monitors import BacktestContext
    from tidegauge.monitors.tuning import detector_settings
    from tidegauge.store.activity import latest_data_time, update_times

    pts = store.points(table.id)
    if not pts:
        return None
    series: dict[tuple[str, str | None, str | None], list[Any]] = {}
    for p in pts:
        if p.value is not None:
            series.setdefault((p.metric, p.column, p.segment), []).append(p)
    settings = project.settings_for(table.ref.fqn)

    def times() -> list[datetime]:
        last = latest_data_time(store, table.id) or datetime.now(UTC)
        return update_times(store, table.id, last)

    ctx = BacktestContext(
        project,
        table,
        series,
        days,
        tuning=lambda metric: detector_settings(metric, settings, project),
        update_times=times,
    )
    return m.backtest(ctx)


# --------------------------------------------------------------------------- the client


class Tidegauge:
    """A project and its store: run monitors, read findings, manage monitors, guard pipelines.

    Args:
        project: a :class:`~tidegauge.config.Project`, or the path of a project file
            (default ``./tidegauge.yml``).
        store: an open store (default: the project's ``store.url``, opened lazily).

    >>> import tidegauge
    >>> tg = tidegauge.Tidegauge(tidegauge.Project(store={"url": "sqlite://"}))
    >>> tg.alerts()
    []
    >>> tg.close()
    """

    def __init__(
        self, project: Project | str | Path | None = None, *, store: Store | None = None
    ) -> None:
        from tidegauge.config import Project, load_project

        self.project: Project = project if isinstance(project, Project) else load_project(project)
        self._store = store
        self._store_error: str | None = None

    @classmethod
    def open(cls, path: str | Path | None = None) -> Tidegauge:
        """Open the project file at ``path`` (a file or its folder)."""
        return cls(path)

    def __enter__(self) -> Tidegauge:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> Store:
        """The metadata store (opened, and migrated, on first use)."""
        from tidegauge.store.store import Store

        if self._store is None:
            self._store = Store.open(self.project.store_url())
        return self._store

    # -- running and reading

    def run(
        self,
        now: datetime | None = None,
        tables: Sequence[str] | None = None,
        *,
        notify: bool = True,
    ) -> RunReport:
        """One monitoring run as of ``now`` (default: now) over ``tables`` (default: all)."""
        from tidegauge.core.clock import Clock
        from tidegauge.runner import run

        clock = Clock.fixed(now) if now is not None else Clock()
        return run(
            self.project, self.store, clock, only=list(tables) if tables else None, notify=notify
        )

    def alerts(
        self,
        *,
        table: str | None = None,
        since: datetime | None = None,
        kind: str | None = None,
        open_only: bool = False,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Alerts, newest data first; ``open_only`` keeps those a breaker would see."""
        table_id = self._table_id(table)
        if table is not None and table_id is None:
            return []
        rows = self.store.alerts.list(since=since, table_id=table_id, kind=kind, limit=limit)
        if open_only:
            from tidegauge.store.incidents import OPEN_STATUSES

            open_ids = {
                i["id"] for i in self.store.incidents.list(status=OPEN_STATUSES, limit=100_000)
            }
            rows = [
                a
                for a in rows
                if a["incident_id"] in open_ids
                and a["feedback"] not in ("expected", "false_positive")
            ]
        return rows

    def incidents(
        self,
        *,
        status: str | Sequence[str] | None = None,
        table: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Incidents, newest first; ``status="open"`` means every open status."""
        from tidegauge.store.incidents import OPEN_STATUSES

        wanted = (
            OPEN_STATUSES
            if status == "open"
            else [status]
            if isinstance(status, str)
            else list(status)
            if status
            else None
        )
        table_id = self._table_id(table)
        if table is not None and table_id is None:
            return []
        return self.store.incidents.list(status=wanted, table_id=table_id, limit=limit)

    def _table_id(self, table: str | None) -> int | None:
        if table is None:
            return None
        t = self.store.find_table(table)
        return t.id if t else None

    # -- monitors as code

    def monitors(self) -> list[_MonitorBase]:
        """Every declared monitor: project file, ``monitors/*.yml``, Python and dbt."""
        from tidegauge.monitors import declared_monitors

        return declared_monitors(self.project)

    def add_monitor(self, *monitors: Any) -> None:
        """Declare monitors in Python; the next :meth:`run`, :meth:`plan` and :meth:`apply`
        include them. Raises ``ValueError`` for a name already declared."""
        from tidegauge.monitors import check_unique, install

        errors = check_unique([*self.monitors(), *monitors])
        if errors:
            raise ValueError("\n".join(errors))
        self.project.monitors = [*self.project.monitors, *monitors]
        install(self.project)

    def plan(self, *, backtest_days: float = 90) -> Plan:
        """What :meth:`apply` would change in the store, with backtested alert rates."""
        return compute_plan(self.project, self.store, backtest_days=backtest_days)

    def apply(self) -> Plan:
        """Write the declared monitors to the store (idempotent); returns what changed."""
        return apply_plan(self.project, self.store)

    # -- circuit breakers

    def breaker(
        self,
        tables: str | Iterable[str],
        *,
        level: BreakerLevel | str = "block",
        max_age: timedelta | str | None = None,
        fail_open: bool | None = None,
        now: datetime | None = None,
    ) -> BreakerResult:
        """Raise :class:`BreakerTripped` when the tables' data must not be used.

        Trips on an open alert at or above ``level`` (``warn``: medium+, ``block``: high+)
        from any monitor — learned ones included — or data older than ``max_age``. When
        tidegauge cannot answer (store unreachable, unknown table), ``fail_open`` decides;
        by default ``block`` fails closed and ``warn`` fails open.
        """
        names = [tables] if isinstance(tables, str) else list(tables)
        store: Store | None
        try:
            store = self.store
            error = None
        except Exception as e:  # an unreachable store is an answer the caller configures
            store, error = None, f"store unavailable: {type(e).__name__}: {e}"
        result = check_breaker(
            store,
            names,
            level=level,
            max_age=max_age,
            fail_open=fail_open,
            now=now,
            monitors=self.monitors(),
            store_error=error,
        )
        for c in result.unanswered:
            log.warning("breaker: cannot judge %s: %s", c.table, c.error)
        if result.tripped:
            raise BreakerTripped(result)
        return result

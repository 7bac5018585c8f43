"""Monitors as code: the plan that makes the store's recorded monitors match the declared
ones (create, change, delete), applying it, and a monitor's predicted alerts replayed over
the stored history."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.monitors import _MonitorBase
    from tidegauge.store.store import Store, StoredTable


MANAGED_SOURCES = ("yaml", "dbt", "python")


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

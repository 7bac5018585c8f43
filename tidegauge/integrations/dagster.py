"""Dagster: tidegauge monitors as asset checks, a breaker for assets, a schedule that runs
tidegauge. Needs the ``dagster`` extra.

An asset matches a table when its key's last two parts are ``schema`` and ``table``
(``AssetKey(["raw", "orders"])`` ↔ ``raw.orders``; a longer key such as
``["warehouse", "raw", "orders"]`` matches too). For every matching asset:

- one check per declared monitor of that table (``severity`` ``high``/``critical`` → an
  ``ERROR`` check, else ``WARN``), failing while that monitor has an open alert;
- one ``tidegauge_breaker`` check (blocking by default) that fails like
  ``tidegauge breaker TABLE`` — on an open alert from *any* monitor, learned ones included —
  so a bad input stops the downstream assets of the run.

Usage::

    from tidegauge.integrations.dagster import (
        TidegaugeResource, tidegauge_asset_checks, tidegauge_schedule)

    tg = TidegaugeResource(project="tidegauge.yml")
    defs = dg.Definitions(
        assets=[orders, daily_orders],
        asset_checks=tidegauge_asset_checks(tg, [orders, daily_orders]),
        schedules=[tidegauge_schedule("0 * * * *")],
        resources={"tidegauge": tg},
    )
"""

# no ``from __future__ import annotations``: Dagster reads resource and context annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import dagster as dg

from tidegauge.core.clock import parse_instant
from tidegauge.sdk import BreakerResult, BreakerTripped, Tidegauge

__all__ = [
    "TidegaugeResource",
    "asset_table",
    "tidegauge_asset_checks",
    "tidegauge_run_job",
    "tidegauge_schedule",
]


class TidegaugeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The project a Dagster deployment watches.

    Attributes:
        project: path of the project file (or its folder).
        now: judge and run as of this ISO time instead of the wall clock (replays, tests).
        level: the breaker level of the ``tidegauge_breaker`` checks: ``warn`` or ``block``.
        max_age: breakers also trip when data is older than this (``6h``...).
        fail_open: when tidegauge cannot answer; unset: closed for block, open for warn.
    """

    project: str = "tidegauge.yml"
    now: str | None = None
    level: str = "block"
    max_age: str | None = None
    fail_open: bool | None = None

    def client(self) -> Tidegauge:
        return Tidegauge(self.project)

    def at(self) -> datetime | None:
        return parse_instant(self.now) if self.now else None

    def run(self, tables: Sequence[str] | None = None) -> dict[str, Any]:
        """One tidegauge run; returns its report as a dict."""
        with self.client() as tg:
            return tg.run(now=self.at(), tables=tables).as_dict()

    def breaker(
        self, tables: Sequence[str], *, level: str | None = None, max_age: str | None = None
    ) -> BreakerResult:
        """Raise :class:`~tidegauge.sdk.BreakerTripped` when ``tables`` must not be used."""
        with self.client() as tg:
            return tg.breaker(
                tables,
                level=level or self.level,
                max_age=max_age or self.max_age,
                fail_open=self.fail_open,
                now=self.at(),
            )


def asset_table(key: dg.AssetKey) -> str | None:
    """``schema.table`` of an asset key (its last two parts), or None for a one-part key.

    >>> asset_table(dg.AssetKey(["raw", "orders"]))
    'raw.orders'
    """
    path = key.path
    return f"{path[-2]}.{path[-1]}".lower() if len(path) >= 2 else None


def _keys(assets: Iterable[Any]) -> list[dg.AssetKey]:
    out: list[dg.AssetKey] = []
    for a in assets:
        if isinstance(a, dg.AssetKey):
            out.append(a)
        elif isinstance(a, dg.AssetsDefinition):
            out.extend(a.keys)
        elif isinstance(a, dg.AssetSpec | dg.SourceAsset):
            out.append(a.key)
        else:
            out.append(dg.AssetKey.from_coercible(a))
    return out


def tidegauge_asset_checks(
    resource: TidegaugeResource,
    assets: Iterable[Any],
    *,
    blocking: bool = True,
) -> list[dg.AssetChecksDefinition]:
    """Asset checks for every asset whose table tidegauge watches (it is in the store, or a
    monitor names it): one per declared monitor, and a ``tidegauge_breaker`` check over all
    of the table's monitors (learned ones included)."""
    with resource.client() as tg:
        monitors = tg.monitors()
        keys = [(k, asset_table(k)) for k in _keys(assets)]
        known = {t for _, t in keys if t and tg.store.find_table(t) is not None}
    known |= {m.fqn for m in monitors}
    checks: list[dg.AssetChecksDefinition] = []
    for key, table in keys:
        if table is None or table not in known:
            continue  # tidegauge does not watch this asset's table
        for m in monitors:
            if m.fqn == table and m.enabled:
                checks.append(_monitor_check(key, table, m.name, m.severity))
        checks.append(_breaker_check(key, table, blocking))
    return checks


def _monitor_check(
    key: dg.AssetKey, table: str, name: str, severity: str
) -> dg.AssetChecksDefinition:
    level = (
        dg.AssetCheckSeverity.ERROR
        if severity in ("high", "critical")
        else dg.AssetCheckSeverity.WARN
    )

    @dg.asset_check(
        asset=key,
        name=name.replace(".", "_").replace("-", "_"),
        description=f"tidegauge monitor {name} on {table}",
    )
    def _check(tidegauge: TidegaugeResource) -> dg.AssetCheckResult:
        from tidegauge.monitors import monitor_for_alert

        with tidegauge.client() as tg:
            mine = [m for m in tg.monitors() if m.name == name]
            alerts = [
                a
                for a in tg.alerts(table=table, open_only=True)
                if monitor_for_alert(mine, table, a["kind"], a["metric"]) is not None
            ]
        return dg.AssetCheckResult(
            passed=not alerts,
            severity=level,
            metadata={"open_alerts": len(alerts), "titles": [str(a["title"]) for a in alerts[:10]]},
        )

    return _check


def _breaker_check(key: dg.AssetKey, table: str, blocking: bool) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=key,
        name="tidegauge_breaker",
        blocking=blocking,
        description=f"no open tidegauge alert on {table} (any monitor)",
    )
    def _check(tidegauge: TidegaugeResource) -> dg.AssetCheckResult:
        try:
            result = tidegauge.breaker([table])
            passed = True
        except BreakerTripped as e:
            result, passed = e.result, False
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"summary": result.summary(), "level": result.level.value},
        )

    return _check


@dg.op(description="One tidegauge run: collect, detect, group, notify.")
def tidegauge_run_op(
    context: dg.OpExecutionContext, tidegauge: TidegaugeResource
) -> dict[str, Any]:
    report = tidegauge.run()
    context.log.info(f"tidegauge run {report['run_id']}: {report['alerts']} new alert(s)")
    return report


@dg.job(description="Run tidegauge over every table of the project.")
def tidegauge_run_job() -> None:
    tidegauge_run_op()


def tidegauge_schedule(
    cron: str = "0 * * * *", *, name: str = "tidegauge_hourly", timezone: str = "UTC"
) -> dg.ScheduleDefinition:
    """A schedule that runs :data:`tidegauge_run_job` (needs a ``tidegauge`` resource)."""
    return dg.ScheduleDefinition(
        name=name, cron_schedule=cron, job=tidegauge_run_job, execution_timezone=timezone
    )

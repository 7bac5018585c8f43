"""Key integrity: columns that must not repeat, their duplicates learned per bucket.

A column is a key when the warehouse declares it (a single-column PRIMARY KEY or UNIQUE
constraint), when a dbt ``unique`` test or a ``rule: unique`` monitor names it, when a
``keys`` monitor or a ``tables: keys:`` entry says so; and ``tables: keys: {column: false}``
says, on purpose, that it no longer is one (a false wins over every true). Its exact duplicates
per bucket (``COUNT(*) - COUNT(DISTINCT key)`` of the non-null keys) come from the same one
scan as the rest of field health, and are tested as a rate against their own history. Only
when that alerts does :func:`describe_duplicates` ask the warehouse which keys repeat, and
never shows the values of a PII column.

>>> m = KeysMonitor(name="orders_keys", table="raw.orders", columns=["order_id"])
>>> m.table_settings()
{'keys': {'order_id': True}}
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from tidegauge.core.metrics import BucketSpec, Metric, Window
from tidegauge.core.metrics.keys import (
    DuplicateKeys,
    build_duplicate_examples_query,
    read_duplicate_examples,
)
from tidegauge.core.model import Alert, AlertKind, TableInfo
from tidegauge.core.timestamps import choose_timestamps
from tidegauge.monitors.backtests import learned
from tidegauge.monitors.base import MonitorBase, Series

if TYPE_CHECKING:
    from tidegauge.config import Project
    from tidegauge.store.store import Store, StoredTable

__all__ = ["KeysMonitor", "describe_duplicates"]

log = logging.getLogger("tidegauge.monitors.keys")


class KeysMonitor(MonitorBase):
    """Columns whose values must not repeat: duplicates per bucket, learned."""

    ALERT_KINDS: ClassVar[tuple[AlertKind, ...]] = (AlertKind.DUPLICATES,)

    type: Literal["keys"] = "keys"
    columns: list[str] = Field(..., min_length=1, description="the key columns")

    def own_settings(self) -> dict[str, Any]:
        return {"keys": dict.fromkeys(self.columns, True)}

    def owns(self, metric: str, column: str | None) -> bool:
        return (
            metric in (Metric.DUPLICATE_RATE, Metric.DUPLICATE_COUNT)
            and column is not None
            and column.lower() in {c.lower() for c in self.columns}
        )

    def backtest(
        self, project: Project, store: Store, table: StoredTable, series: Series, days: float
    ) -> dict[str, Any] | None:
        chosen = {k: v for k, v in series.items() if self.owns(k[0], k[1]) and k[2] is None}
        chosen = {k: v for k, v in chosen.items() if k[0] == Metric.DUPLICATE_RATE}
        return learned(project, table, self, chosen, days)


def describe_duplicates(
    project: Project, alerts: Sequence[Alert], tables: dict[str, TableInfo]
) -> None:
    """Add which keys repeat to each duplicate-key alert: how many keys, how many extra
    rows, and a few examples (none for a PII column). One small query per such alert, run
    by the warehouse that holds the table; a warehouse that cannot answer leaves the alert
    as it is, with the reason."""
    from tidegauge.warehouses.base import WarehouseError
    from tidegauge.warehouses.registry import open_warehouse

    wanted = [
        a
        for a in alerts
        if a.metric == Metric.DUPLICATE_RATE and a.column and a.table.key in tables
    ]
    by_name = {w.name: w for w in project.warehouses}
    for alert in wanted:
        info = tables[alert.table.key]
        column = alert.column or ""
        settings = project.settings_for(info.ref.fqn)
        if column.lower() in {c.lower() for c in settings.pii_columns}:
            alert.explanation["duplicates"] = {"examples": "withheld: pii column"}
            continue
        config = by_name.get(info.ref.warehouse)
        key = next((c for c in info.columns if c.name.lower() == column.lower()), None)
        if config is None or key is None:
            continue
        choice = choose_timestamps(info.columns, settings.timestamp_column)
        seconds = int(alert.explanation.get("bucket_seconds") or 0)
        bucket = window = None
        if choice.bucket is not None and seconds:
            bucket = BucketSpec(choice.bucket, seconds)
            window = Window(alert.data_time, alert.data_time + timedelta(seconds=seconds))
        try:
            with open_warehouse(config) as wh:
                query = build_duplicate_examples_query(
                    wh.table_expression(info.ref),
                    key,
                    wh.capabilities(),
                    bucket=bucket,
                    window=window,
                )
                res = wh.execute(query, comment=f"duplicate keys of {info.ref.fqn}.{column}")
        except (WarehouseError, ImportError) as e:
            log.warning("%s.%s: duplicate examples not read: %s", info.ref.fqn, column, e)
            alert.explanation["duplicates"] = {"examples": f"not read: {e}"}
            continue
        _explain(alert, column, read_duplicate_examples(res.columns, res.rows))


def _explain(alert: Alert, column: str, found: DuplicateKeys) -> None:
    alert.explanation["duplicates"] = {
        "keys": found.keys,
        "extra_rows": found.extra_rows,
        "examples": [[k, n] for k, n in found.examples],
    }
    text = str(alert.explanation.get("text") or "")
    alert.explanation["text"] = f"{found.sentence(column)}. {text}".strip()

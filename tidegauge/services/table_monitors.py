"""What watches a table, as the API's ``/monitors`` and a table's page list it: the monitors
``apply`` recorded, the config's rules and custom metrics, and the automatic ones (freshness,
volume, schema, field health and categorical values per column that has series)."""

from __future__ import annotations

from typing import Any

from tidegauge.config import Project
from tidegauge.core.metrics import Metric
from tidegauge.store import browse
from tidegauge.store import monitors as stored_monitors
from tidegauge.store.store import Store, StoredTable


def monitors_for(
    project: Project,
    store: Store,
    t: StoredTable,
    keys: list[tuple[str, str, str, int]] | None = None,
) -> list[dict[str, Any]]:
    """What watches a table: monitors stored by ``apply``, config rules and automatic ones."""
    settings = project.settings_for(t.ref.fqn)
    keys = keys if keys is not None else browse.series_keys(store, t.id)
    metrics = {m for m, c, _, _ in keys if not c}
    out: list[dict[str, Any]] = [
        {
            "name": r["name"],
            "kind": r["kind"],
            "column": None,
            "source": r["source"],
            "enabled": r["enabled"],
            "detail": r["config"],
        }
        for r in stored_monitors.rows(store, t.id)
    ]
    fresh = "learned update cadence"
    if settings.freshness_sla is not None:
        fresh += f"; SLA {settings.freshness_sla}"
    out.append(
        {
            "name": "freshness",
            "kind": "freshness",
            "column": None,
            "source": "config" if settings.freshness_sla else "auto",
            "enabled": True,
            "detail": fresh,
        }
    )
    vol = "rows per time bucket" if Metric.BUCKET_ROW_COUNT in metrics else "total row count"
    if settings.row_count_min is not None:
        vol += f"; at least {settings.row_count_min:,} rows"
    out.append(
        {
            "name": "volume",
            "kind": "volume",
            "column": None,
            "source": "auto",
            "enabled": True,
            "detail": vol,
        }
    )
    out.append(
        {
            "name": "schema",
            "kind": "schema_change",
            "column": None,
            "source": "auto",
            "enabled": True,
            "detail": "added, removed and retyped columns",
        }
    )
    per_col: dict[str, set[str]] = {}
    categorical: set[str] = set()
    for m, c, _, _ in keys:
        if not c:
            continue
        if m == Metric.VALUE_COUNT:
            categorical.add(c)
        else:
            per_col.setdefault(c, set()).add(m)
    for col, ms in sorted(per_col.items()):
        out.append(
            {
                "name": f"field health · {col}",
                "kind": "field_health",
                "column": col,
                "source": "auto",
                "enabled": True,
                "detail": ", ".join(sorted(ms)),
            }
        )
    for col in sorted(categorical):
        out.append(
            {
                "name": f"categorical values · {col}",
                "kind": "categorical",
                "column": col,
                "source": "auto",
                "enabled": True,
                "detail": "new, vanished and shifting values",
            }
        )
    for cm in project.metrics:
        if cm.table and cm.table.lower() == t.ref.fqn.lower():
            out.append(
                {
                    "name": f"custom · {cm.name}",
                    "kind": "custom",
                    "column": None,
                    "source": "config",
                    "enabled": True,
                    "detail": cm.sql,
                }
            )
    return out

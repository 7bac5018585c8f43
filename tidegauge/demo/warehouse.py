"""Build the demo warehouse: a livestream marketplace in an embedded DuckDB file.

Sellers run live video shows, buyers bid on items during the shows, orders and payments follow.
``raw`` holds what the loaders write (users, shows, bids, orders, payments and support tickets),
``analytics`` holds dbt-style models as views built from ``raw`` with plain SQL, so that column
lineage can be read from the view definitions.

Every number is drawn with numpy from one seed (one independent stream per table), so the same
``seed`` and ``end`` always give the same warehouse; rows reach DuckDB as dicts of numpy arrays
(no pandas, no pyarrow). Hourly event counts are Poisson around a rate with an evening peak, a
weekend lift and ~1 %/week growth. The incidents described by the returned :class:`Scenario`
are injected into the last 30 hours; everything else is clean.

Data times are naive UTC ``TIMESTAMP`` s. Each raw table has ``created_at`` (event time) and
``loaded_at``: loaders run on every hour boundary and stamp a batch with that time, so a row
created in ``[h, h+1h)`` has ``loaded_at = h + 1h`` and at ``end`` every table is fully loaded.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tidegauge.core.clock import ensure_utc, floor_time
from tidegauge.demo.data import generate
from tidegauge.demo.scenario import Scenario
from tidegauge.demo.shape import ANALYTICS_VIEWS as ANALYTICS_VIEWS  # re-exported
from tidegauge.demo.shape import CLEAN_TABLES as CLEAN_TABLES
from tidegauge.demo.shape import DROPPED_COLUMN, incidents
from tidegauge.demo.shape import RAW_TABLES as RAW_TABLES
from tidegauge.demo.shape import volume_drop_start as volume_drop_start
from tidegauge.demo.sql import COMMENTS, models, raw_tables


def demo_end(now: datetime) -> datetime:
    """The end of the last full hour before ``now`` (UTC): the demo's ``end``.

    >>> demo_end(datetime(2026, 3, 1, 12, 34)).isoformat()
    '2026-03-01T12:00:00+00:00'
    """
    return floor_time(ensure_utc(now), 3600)


def build_demo_warehouse(
    path: str | os.PathLike[str], *, end: datetime, days: int = 60, seed: int = 7
) -> Scenario:
    """Write the demo warehouse to ``path`` (replacing any file there) and describe it.

    ``end`` must be a UTC hour boundary (naive datetimes are taken as UTC; see
    :func:`demo_end`); data covers ``[end - days, end)``. The file is closed when this returns,
    so it can be opened read-only at once.
    """
    import duckdb

    end_utc = ensure_utc(end)
    if floor_time(end_utc, 3600) != end_utc:
        raise ValueError(f"end must be a UTC hour boundary, got {end_utc.isoformat()}")
    if days < 3:
        raise ValueError(f"days must be at least 3 (the incidents span 30 hours), got {days}")
    start_utc = end_utc - timedelta(days=days)
    data = generate(start_utc, end_utc, days, seed)

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (target, target.with_name(target.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE SCHEMA analytics")
        for name, (ddl, select) in raw_tables(seed).items():
            con.execute(f"CREATE TABLE {name} ({ddl})")
            con.register("_demo_src", data[name])
            con.execute(f"INSERT INTO {name} {select} FROM _demo_src")
            con.unregister("_demo_src")
        for name, sql in models(include_referral_code=True).items():
            con.execute(f"CREATE VIEW {name} AS {sql}")
        for name, comment in COMMENTS.items():
            kind = "VIEW" if name.startswith("analytics.") else "TABLE"
            con.execute(f"COMMENT ON {kind} {name} IS '{comment}'")
        con.execute("CHECKPOINT")
    finally:
        con.close()

    row_counts = {name: len(arrays["created_at"]) for name, arrays in data.items()}
    return Scenario(
        start=start_utc,
        end=end_utc,
        seed=seed,
        days=days,
        incidents=incidents(end_utc),
        row_counts=row_counts,
        clean_tables=list(CLEAN_TABLES),
    )


def apply_schema_change(target: Any, *, rebuild_models: bool = True) -> None:
    """Drop ``raw.users.referral_code``: the demo's schema-change incident, applied between runs.

    ``target`` is the warehouse path or an open (writable) DuckDB connection. With
    ``rebuild_models`` (the default) the views that read the column (``analytics.stg_users`` and
    ``analytics.dim_users``) are re-created without it, as the dbt project's next run after the
    change would, so the whole warehouse keeps querying and the removal shows up downstream as a
    schema change too. With ``rebuild_models=False`` they are left as they are and fail at query
    time, like any view over a dropped column. Applying it twice is harmless.
    """
    import duckdb

    table, column = DROPPED_COLUMN
    if isinstance(target, str | os.PathLike):
        con = duckdb.connect(str(target))
        owned = True
    else:
        con = target
        owned = False
    try:
        con.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}")
        if rebuild_models:
            for name, sql in models(include_referral_code=False).items():
                if name in ("analytics.stg_users", "analytics.dim_users"):
                    con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        if owned:
            con.execute("CHECKPOINT")
    finally:
        if owned:
            con.close()


# --------------------------------------------------------------------------------------------

"""A small real DuckDB warehouse and project for the monitors, SDK and breaker tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

END = datetime(2026, 3, 10, 12, tzinfo=UTC)


def build_warehouse(path: Path, *, volume_drop: bool = False, bad_status: bool = False) -> None:
    """``raw.orders``: 21 days of hourly orders with a daily cycle; ``raw.customers``.

    ``volume_drop`` removes 90% of the rows of the last 3 hours (a learned volume anomaly);
    ``bad_status`` adds ``refunded`` orders and orders of unknown customers (rule failures).
    """
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    drop = "0.1" if volume_drop else "1"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE raw.orders AS
        WITH hours AS (
            SELECT TIMESTAMP '2026-02-17 12:00:00' + h * INTERVAL 1 HOUR AS hour_start
            FROM range(0, 21 * 24) t(h)
        ), sized AS (
            SELECT hour_start,
                   CAST(40 + 25 * sin(2 * pi() * (hour(hour_start) - 6) / 24) AS INTEGER)
                   * CASE WHEN hour_start >= TIMESTAMP '2026-03-10 09:00:00' THEN {drop}
                     ELSE 1 END AS n
            FROM hours
        )
        SELECT row_number() OVER () AS id,
               hour_start + (i * 3 % 60) * INTERVAL 1 MINUTE AS created_at,
               CASE WHEN i % 4 = 0 THEN 'paid' ELSE 'placed' END AS status,
               1 + (i % 50) AS customer_id,
               (i % 97) * 1.5 AS amount
        FROM sized, range(0, CAST(n AS INTEGER)) r(i)
        """
    )
    con.execute(
        "CREATE OR REPLACE TABLE raw.customers AS "
        "SELECT i AS id, 'c' || i AS name FROM range(1, 51) t(i)"
    )
    if bad_status:
        con.execute(
            "INSERT INTO raw.orders SELECT 900000 + i, TIMESTAMP '2026-03-10 10:30:00', "
            "'refunded', 999, 5.0 FROM range(0, 7) t(i)"
        )
    con.close()


PROJECT = """\
warehouses: [{type: duckdb, path: w.duckdb}]
store: {url: "sqlite:///state.db"}
tables:
  - match: "*"
    field_health: false
    categorical: false
monitors:
  - name: orders_volume
    type: volume
    table: raw.orders
    owner: "@omar"
    severity: high
    schedule: 1h
  - name: orders_fresh
    type: freshness
    table: raw.orders
    sla: 6h
"""

ORDERS_RULES = """\
monitors:
  - name: orders_status_ok
    type: rule
    rule: accepted_values
    table: raw.orders
    column: status
    values: [paid, placed]
  - name: orders_customer_fk
    type: rule
    rule: relationships
    table: raw.orders
    column: customer_id
    to: raw.customers
    field: id
    severity: medium
"""


def write_project(
    root: Path,
    *,
    extra: str = "",
    rules: bool = True,
    volume_drop: bool = False,
    bad_status: bool = False,
) -> Path:
    build_warehouse(root / "w.duckdb", volume_drop=volume_drop, bad_status=bad_status)
    (root / "tidegauge.yml").write_text(PROJECT + extra)
    if rules:
        (root / "monitors").mkdir(exist_ok=True)
        (root / "monitors" / "orders.yml").write_text(ORDERS_RULES)
    return root / "tidegauge.yml"

"""A small but realistic store for the web tests: tables, hourly metrics, alerts, an incident,
schema changes and lineage, written through the Store API (no mocks)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.core.lineage import LineageGraph, Node, NodeKind, Origin
from tidegauge.core.model import (
    Alert,
    AlertKind,
    ColumnInfo,
    Impact,
    Incident,
    MetricPoint,
    Severity,
    TableInfo,
    TableRef,
    TypeFamily,
)
from tidegauge.steps.lineage import save_graph, table_node_id
from tidegauge.store.store import Store
from tidegauge.web.server import create_app

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
XSS_TABLE = '<script>alert("t")</script>'
XSS_COLUMN = "<img src=x onerror=alert(1)>"


@dataclass
class Seeded:
    store: Store
    orders: int
    revenue: int
    customers: int
    evil: int
    volume_alert: int
    null_alert: int
    incident: int


def _cols(*spec: tuple[str, str, TypeFamily]) -> tuple[ColumnInfo, ...]:
    return tuple(ColumnInfo(n, t, f, True, i) for i, (n, t, f) in enumerate(spec))


def seed(store: Store, now: datetime = NOW) -> Seeded:
    ids: dict[str, int] = {}
    specs = {
        "raw.orders": _cols(
            ("id", "BIGINT", TypeFamily.INTEGER),
            ("status", "VARCHAR", TypeFamily.STRING),
            ("amount", "DOUBLE", TypeFamily.FLOAT),
            ("created_at", "TIMESTAMP", TypeFamily.TIMESTAMP),
        ),
        "analytics.daily_revenue": _cols(
            ("day", "DATE", TypeFamily.DATE), ("revenue", "DOUBLE", TypeFamily.FLOAT)
        ),
        "analytics.customers": _cols(
            ("id", "BIGINT", TypeFamily.INTEGER), ("email", "VARCHAR", TypeFamily.STRING)
        ),
        f"evil.{XSS_TABLE}": _cols((XSS_COLUMN, "VARCHAR", TypeFamily.STRING)),
    }
    for fqn, cols in specs.items():
        schema, name = fqn.split(".", 1)
        info = TableInfo(
            TableRef("main", schema, name), row_count=120_000, bytes=8_400_000, columns=cols
        )
        ids[fqn] = store.upsert_table(info, now - timedelta(days=21))
    store.set_table_meta(ids["raw.orders"], owner="data-platform@example.com", tags=["raw"])
    run_id = store.start_run(as_of=now, now=now, holder="test")
    start = now - timedelta(days=21)
    hours = int((now - start).total_seconds() // 3600)
    for fqn, tid in ids.items():
        ref = TableRef("main", *fqn.split(".", 1))
        pts = []
        for h in range(hours):
            t = start + timedelta(hours=h)
            base = 500 + 300 * math.sin(2 * math.pi * (t.hour - 6) / 24) + 7 * (h % 5)
            if fqn == "raw.orders" and h >= hours - 3:
                base *= 0.2  # the incident: orders drop
            pts.append(
                MetricPoint(ref, "bucket_row_count", t, float(round(base)), bucket_seconds=3600)
            )
            rate = 0.01 + 0.002 * (h % 3)
            if fqn == "analytics.customers" and h == hours - 1:
                rate = 0.35
            col = "email" if fqn == "analytics.customers" else None
            if col:
                pts.append(MetricPoint(ref, "null_rate", t, rate, column=col, bucket_seconds=3600))
        pts.append(MetricPoint(ref, "max_timestamp", now, (now - timedelta(hours=1)).timestamp()))
        store.upsert_points(tid, pts, run_id=run_id, now=now)
    store.add_schema_events(
        ids["raw.orders"],
        [{"change": "column_added", "column_name": "coupon_code", "new_value": "VARCHAR"}],
        now - timedelta(hours=5),
    )
    orders = TableRef("main", "raw", "orders")
    t_drop = start + timedelta(hours=hours - 1)
    volume = Alert(
        AlertKind.VOLUME,
        orders,
        "bucket_row_count",
        t_drop,
        now,
        observed=130.0,
        expected=640.0,
        lower=520.0,
        upper=760.0,
        severity=Severity.HIGH,
        title="volume anomaly in raw.orders",
        explanation={"text": "130 rows in the hour, expected 520 – 760"},
    )
    vid = store.alerts.add(volume, ids["raw.orders"], run_id)
    customers = TableRef("main", "analytics", "customers")
    nulls = Alert(
        AlertKind.NULL_RATE,
        customers,
        "null_rate",
        t_drop,
        now,
        column="email",
        observed=0.35,
        expected=0.012,
        lower=0.0,
        upper=0.03,
        severity=Severity.MEDIUM,
        title="null rate anomaly in analytics.customers.email",
        explanation={"text": "35% nulls, expected about 1%"},
    )
    nid = store.alerts.add(nulls, ids["analytics.customers"], run_id)
    assert vid is not None and nid is not None
    inc = Incident(
        AlertKind.VOLUME,
        orders,
        "Orders volume dropped 80%",
        t_drop,
        now,
        severity=Severity.HIGH,
        summary="raw.orders received 130 rows, expected 640.",
        owner="data-platform@example.com",
        impact=Impact(
            ("analytics.daily_revenue", "analytics.customers"),
            ("analytics.daily_revenue.revenue",),
            ("Revenue dashboard",),
            ("analytics@example.com",),
        ),
        root_cause=[
            {
                "type": "schema_change",
                "text": "schema change upstream in `raw.orders`: column_added `coupon_code`",
            }
        ],
    )
    iid = store.incidents.create(inc, ids["raw.orders"], vid)
    store.alerts.set_incident([vid, nid], iid)
    store.incidents.add_event(iid, "opened", "incident opened", now)
    store.finish_run(run_id, "success", {"tables": 4}, now)

    g = LineageGraph()
    for fqn in specs:
        schema, name = fqn.split(".", 1)
        g.add_node(
            Node(
                table_node_id("main", fqn),
                NodeKind.TABLE,
                name,
                schema,
                name,
                owners=("analytics@example.com",) if schema == "analytics" else (),
            )
        )
    g.add_node(Node("exposure.revenue_dashboard", NodeKind.EXPOSURE, "Revenue dashboard"))
    g.add_edge(
        table_node_id("main", "raw.orders"),
        table_node_id("main", "analytics.daily_revenue"),
        Origin.SQL,
    )
    g.add_edge(
        table_node_id("main", "raw.orders"),
        table_node_id("main", "analytics.customers"),
        Origin.SQL,
    )
    g.add_edge(
        table_node_id("main", "analytics.daily_revenue"), "exposure.revenue_dashboard", Origin.DBT
    )
    save_graph(store, g, now)
    return Seeded(
        store,
        ids["raw.orders"],
        ids["analytics.daily_revenue"],
        ids["analytics.customers"],
        ids[f"evil.{XSS_TABLE}"],
        vid,
        nid,
        iid,
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        yield seed(store)
    finally:
        store.close()


def make_client(seeded: Seeded, project: Project | None = None) -> TestClient:
    app = create_app(
        project or Project(name="shop"), seeded.store, clock=Clock.fixed(NOW + timedelta(minutes=5))
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    with make_client(seeded) as c:
        yield c

"""The group step on a real store and a real lineage graph: alerts join the root that
column lineage says explains them, repeats continue an incident, and its severity is
computed, explained, stored and raised as the problem goes on."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.run_context import run_context
from tidegauge.config import load_project
from tidegauge.core.incidents import Link
from tidegauge.core.lineage import EdgeKind, LineageGraph, Node, NodeKind, Origin
from tidegauge.core.model import Alert, AlertKind, Severity, TableInfo, TableRef
from tidegauge.steps.group import Paths, group_alerts
from tidegauge.store.store import Store

T0 = datetime(2026, 3, 2, 18, tzinfo=UTC)
TABLES = ("raw.orders", "raw.payments", "stg.payments", "fct.orders")


def graph() -> LineageGraph:
    """raw.payments → stg.payments → fct.orders ← raw.orders; a dashboard reads fct.orders."""
    g = LineageGraph()
    for fqn in TABLES:
        schema, table = fqn.split(".")
        owners = ("analytics@example.com",) if schema == "fct" else ()
        g.add_node(Node(f"table:{fqn}", NodeKind.TABLE, fqn, schema, table, owners=owners))
    g.add_node(Node("exposure:revenue", NodeKind.EXPOSURE, "revenue", owners=("cfo@x.com",)))
    sql = Origin.SQL
    g.add_column_edge(
        "table:raw.payments", "method", "table:stg.payments", "method", EdgeKind.DIRECT, sql
    )
    g.add_column_edge(
        "table:stg.payments", "method", "table:fct.orders", "payment_method", EdgeKind.DIRECT, sql
    )
    g.add_column_edge(
        "table:stg.payments", "order_id", "table:fct.orders", "order_id", EdgeKind.DIRECT, sql
    )
    g.add_column_edge(
        "table:raw.orders", "status", "table:fct.orders", "status", EdgeKind.DIRECT, sql
    )
    g.add_column_edge(
        "table:raw.orders", "status", "table:fct.orders", "amount", EdgeKind.INDIRECT, sql
    )
    g.add_edge("table:fct.orders", "exposure:revenue", Origin.DBT)
    return g


@pytest.fixture
def setup(tmp_path):
    (tmp_path / "tidegauge.yml").write_text('store: {url: "sqlite:///state.db"}\n')
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    ids = {
        fqn: store.upsert_table(TableInfo(TableRef("main", *fqn.split("."))), T0) for fqn in TABLES
    }
    return project, store, ids


def alert(store, ids, fqn, kind, at, column=None, observed=None, expected=None, metric=None):
    ref = TableRef("main", *fqn.split("."))
    a = Alert(
        kind,
        ref,
        metric or ("null_rate" if kind is AlertKind.NULL_RATE else "value_share"),
        at,
        at,
        column=column,
        observed=observed,
        expected=expected,
        title=f"{kind.value} in {fqn}.{column}",
        explanation={"text": f"{kind.value} in {fqn}.{column}"},
    )
    (aid,) = store.alerts.add_many([(a, ids[fqn])], None)
    a.id = aid
    return {
        "id": aid,
        "table_id": ids[fqn],
        "table": ref,
        "kind": kind,
        "column": column,
        "data_time": at,
        "severity": a.severity,
        "alert": a,
    }


def test_column_links_come_from_the_lineage_graph():
    paths = Paths(graph())
    assert paths.link("raw.payments", "method", "fct.orders", "payment_method") is Link.DIRECT
    assert paths.link("raw.orders", "status", "fct.orders", "amount") is Link.INDIRECT
    assert paths.link("raw.payments", "method", "fct.orders", "status") is Link.NONE
    assert paths.link("raw.payments", "method", "fct.orders", None) is Link.UNKNOWN
    assert paths("raw.payments", "fct.orders") == ["raw.payments", "stg.payments", "fct.orders"]


def test_a_downstream_column_joins_its_root_and_a_repeat_continues_and_raises_severity(setup):
    project, store, ids = setup
    g = graph()
    run1 = [
        alert(store, ids, "raw.orders", AlertKind.CATEGORY_NEW_VALUE, T0, "status", 0.05, 0.0),
        alert(store, ids, "raw.payments", AlertKind.NULL_RATE, T0, "method", 0.41, 0.005),
        alert(store, ids, "fct.orders", AlertKind.NULL_RATE, T0, "payment_method", 0.4, 0.005),
    ]
    ctx = run_context(project, store, T0, run_id=1)
    group_alerts(ctx, g, run1)
    assert len(ctx.report.incidents_opened) == 2
    by_table = {i["table"]: i for i in store.incidents.list()}
    payments = by_table["raw.payments"]
    members = {a["table"] for a in store.alerts.list(incident_id=payments["id"])}
    assert members == {"raw.payments", "fct.orders"}  # not under the concurrent orders one
    # severity: computed from size, duration, reach, with the reasons kept
    assert payments["severity_reason"] == [
        "a rate of 41% of rows against a usual 0.5%, a severe change",
        "seen for 1 hour so far",
        "2 downstream models of 2 owners and 1 exposure (dashboards, reports) read it",
    ]
    assert payments["severity"] == Severity.HIGH.value
    orders = by_table["raw.orders"]
    assert orders["severity"] == Severity.HIGH.value  # a large change, read by the dashboard

    # five hours later the null rate is still up: the repeat continues the incident
    later = T0 + timedelta(hours=5)
    repeat = alert(store, ids, "raw.payments", AlertKind.NULL_RATE, later, "method", 0.3, 0.005)
    ctx = run_context(project, store, later, run_id=2)
    group_alerts(ctx, g, [repeat])
    report = ctx.report
    assert report.incidents_opened == [] and report.incidents_updated == [payments["id"]]
    updated = store.incidents.get(payments["id"])
    assert updated is not None
    assert updated["severity_reason"][1] == "it has lasted 6 hours"
    assert updated["severity"] == Severity.CRITICAL.value  # it went on: its level rose
    raised = [e for e in updated["timeline"] if e["type"] == "severity"]
    assert raised and raised[0]["text"].startswith("severity high → critical: Critical: a rate")
    assert (
        "Continuing: 1 more alert on it. 1 downstream symptom grouped here." in (updated["summary"])
    )
    roles = [e["details"].get("role") for e in updated["timeline"] if e["type"] == "alert"]
    assert roles == ["root", "downstream", "continuing"]

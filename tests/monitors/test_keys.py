"""Key integrity on real engines: duplicates counted per bucket in the profile scan, a day of
8% duplicated order ids alerting with counts and examples, declared keys read from the
warehouse, and the bad inputs (NULL keys, a key switched off on purpose, no timestamp)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from tests.engines import Engine, open_engine
from tidegauge.config import Project
from tidegauge.core.clock import Clock
from tidegauge.core.metrics import Metric
from tidegauge.runner import run
from tidegauge.store.store import Store

THREE_ENGINES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
]
START = datetime(2026, 3, 1)
DAYS = 30  # a rate needs 24 buckets of history before it is tested
PER_DAY = 100
#: the run: half an hour into the day after the last one, so the last day is complete
NOW = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=DAYS, minutes=30)
COLUMNS = {
    "order_id": "bigint",
    "customer_id": "bigint",
    "placed_at": "timestamp",
    "amount": "float",
}


@pytest.fixture(params=THREE_ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with open_engine(request.param, tmp_path) as eng:
        yield eng


def orders(duplicated_last_day: bool) -> list[tuple[Any, ...]]:
    """``PER_DAY`` orders a day; on the last day 8 rows repeat earlier ids of that day:
    one id three times and six ids twice (7 keys, 8 extra rows: 8% of the day's rows)."""
    rows = []
    for day in range(DAYS):
        first = day * PER_DAY + 1
        for i in range(PER_DAY):
            order_id = first + i
            if duplicated_last_day and day == DAYS - 1 and i >= PER_DAY - 8:
                order_id = first if i < PER_DAY - 6 else first + (i - (PER_DAY - 7))
            placed = START + timedelta(days=day, minutes=14 * i + 3)
            rows.append((order_id, 1 + (i * 7) % 40, placed, float(5 + i % 13)))
    return rows


def project(engine: Engine, tmp_path: Path, **table: Any) -> Project:
    return Project.model_validate(
        {
            "warehouses": [engine.config.model_dump()],
            "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
            "defaults": {"bucket": "day", "history_days": 35},
            "tables": [{"match": "*", "timestamp_column": "placed_at", **table}],
        }
    )


def duplicate_alerts(store: Store) -> list[dict[str, Any]]:
    return store.alerts.list(kind="duplicates")


def test_a_day_of_8_percent_duplicated_order_ids_alerts_with_counts_and_examples(
    engine: Engine, tmp_path: Path
) -> None:
    engine.seed("orders", COLUMNS, orders(duplicated_last_day=True))
    p = project(engine, tmp_path, keys={"order_id": True})
    store = Store.open(p.store_url())
    run(p, store, Clock.fixed(NOW))

    (alert,) = duplicate_alerts(store)
    assert alert["column"] == "order_id" and alert["metric"] == Metric.DUPLICATE_RATE
    assert alert["observed"] == pytest.approx(0.08)
    explained = alert["explanation"]
    assert explained["duplicates"]["keys"] == 7 and explained["duplicates"]["extra_rows"] == 8
    first_of_last_day = (DAYS - 1) * PER_DAY + 1
    assert explained["duplicates"]["examples"][0] == [str(first_of_last_day), 3]
    assert len(explained["duplicates"]["examples"]) == 5
    assert explained["text"].startswith("7 order_id values appear more than once (8 extra rows)")
    # the key gets no distribution statistics, and the timestamp no distinct count
    table = store.find_table(f"{engine.schema}.orders")
    assert table is not None
    stored = {(pt.metric, pt.column) for pt in store.points(table.id)}
    assert (Metric.DUPLICATE_COUNT, "order_id") in stored
    assert (Metric.MEAN, "order_id") not in stored and (Metric.P50, "order_id") not in stored
    assert (Metric.DISTINCT_COUNT, "placed_at") not in stored
    store.close()


def test_clean_keys_raise_nothing_and_a_key_switched_off_is_not_checked(
    engine: Engine, tmp_path: Path
) -> None:
    engine.seed("orders", COLUMNS, orders(duplicated_last_day=False))
    p = project(engine, tmp_path, keys={"order_id": True})
    store = Store.open(p.store_url())
    run(p, store, Clock.fixed(NOW))
    assert duplicate_alerts(store) == []
    store.close()


def test_a_key_marked_false_on_purpose_is_not_a_key(tmp_path: Path) -> None:
    with open_engine("duckdb", tmp_path) as engine:
        engine.seed("orders", COLUMNS, orders(duplicated_last_day=True))
        # a dbt unique test or a declaration says key; the user says, on purpose, it is not
        p = Project.model_validate(
            {
                "warehouses": [engine.config.model_dump()],
                "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
                "defaults": {"bucket": "day"},
                "tables": [
                    {"match": "*", "timestamp_column": "placed_at", "keys": {"order_id": True}},
                    {"match": f"{engine.schema}.orders", "keys": {"order_id": False}},
                ],
            }
        )
        assert p.settings_for(f"{engine.schema}.orders").keys == {"order_id": False}
        store = Store.open(p.store_url())
        run(p, store, Clock.fixed(NOW))
        assert duplicate_alerts(store) == []
        table = store.find_table(f"{engine.schema}.orders")
        assert table is not None
        assert not store.points(table.id, metric=Metric.DUPLICATE_COUNT)
        store.close()


def test_examples_of_a_pii_key_are_never_shown(tmp_path: Path) -> None:
    with open_engine("duckdb", tmp_path) as engine:
        engine.seed("orders", COLUMNS, orders(duplicated_last_day=True))
        p = project(engine, tmp_path, keys={"order_id": True}, pii_columns=["order_id"])
        store = Store.open(p.store_url())
        run(p, store, Clock.fixed(NOW))
        (alert,) = duplicate_alerts(store)
        assert alert["explanation"]["duplicates"] == {"examples": "withheld: pii column"}
        assert str((DAYS - 1) * PER_DAY + 1) not in str(alert["explanation"])
        store.close()


def test_declared_keys_are_read_from_the_warehouse(engine: Engine) -> None:
    pk = exp.ColumnDef(
        this=exp.to_identifier("id", quoted=True),
        kind=exp.DataType.build("BIGINT"),
        constraints=[exp.ColumnConstraint(kind=exp.PrimaryKeyColumnConstraint())],
    )
    unique = exp.ColumnDef(
        this=exp.to_identifier("email", quoted=True),
        kind=exp.DataType.build("VARCHAR(200)"),
        constraints=[exp.ColumnConstraint(kind=exp.UniqueColumnConstraint())],
    )
    plain = exp.ColumnDef(
        this=exp.to_identifier("name", quoted=True), kind=exp.DataType.build("VARCHAR(50)")
    )
    engine.admin_run(
        exp.Create(
            this=exp.Schema(this=engine.table("people"), expressions=[pk, unique, plain]),
            kind="TABLE",
        )
    )
    wh = engine.connect()
    assert wh.key_columns(engine.ref("people")) == {"id", "email"}
    assert wh.key_columns(engine.ref("nowhere")) == frozenset()


def test_null_keys_and_a_table_without_timestamps(tmp_path: Path) -> None:
    with open_engine("duckdb", tmp_path) as engine:
        rows = [(1, "a"), (2, "b"), (2, "c"), (None, "d"), (None, "e"), (3, "f")]
        engine.seed("codes", {"code": "bigint", "label": "text"}, rows)
        p = Project.model_validate(
            {
                "warehouses": [engine.config.model_dump()],
                "store": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
                "tables": [{"match": "*", "field_health": True, "keys": {"code": True}}],
            }
        )
        store = Store.open(p.store_url())
        report = run(p, store, Clock.fixed(NOW))
        assert not report.failed_tables
        table = store.find_table(f"{engine.schema}.codes")
        assert table is not None
        got = {pt.metric: pt.value for pt in store.points(table.id, column="code")}
        # NULLs are nulls, not duplicates: 4 keys, 3 distinct
        assert got[Metric.DUPLICATE_COUNT] == 1 and got[Metric.NULL_COUNT] == 2
        assert got[Metric.DUPLICATE_RATE] == pytest.approx(1 / 6)
        store.close()


def test_a_relationship_gets_an_orphan_rate_and_a_day_of_orphans_alerts(
    engine: Engine, tmp_path: Path
) -> None:
    engine.seed("customers", {"id": "bigint", "name": "text"}, [(i, f"c{i}") for i in range(1, 41)])
    rows = orders(duplicated_last_day=False)
    last_day = START + timedelta(days=DAYS - 1)
    # 10 orders of the last day point at customers that do not exist
    rows = [
        (o, 900 + i if placed >= last_day and i < 10 else c, placed, a)
        for i, (o, c, placed, a) in enumerate(sorted(rows, key=lambda r: (r[2] < last_day, r[2])))
    ]
    engine.seed("orders", COLUMNS, rows)
    # as a dbt relationships test or a rule monitor would declare it
    from tidegauge.monitors import RuleMonitor

    rule = RuleMonitor(
        name="fk",
        table=f"{engine.schema}.orders",
        rule="relationships",
        column="customer_id",
        to=f"{engine.schema}.customers",
        field="id",
    )
    references = rule.table_settings()["references"]
    assert references == {"customer_id": f"{engine.schema}.customers.id"}
    p = project(engine, tmp_path, references=references)
    store = Store.open(p.store_url())
    run(p, store, Clock.fixed(NOW))
    table = store.find_table(f"{engine.schema}.orders")
    assert table is not None
    rates = {
        pt.bucket_start: pt.value
        for pt in store.points(table.id, metric=Metric.ORPHAN_RATE, column="customer_id")
    }
    assert len(rates) == DAYS and rates[NOW.replace(minute=0) - timedelta(days=1)] == 0.1
    assert sum(v for v in rates.values() if v) == pytest.approx(0.1)
    (alert,) = [a for a in store.alerts.list() if a["metric"] == Metric.ORPHAN_RATE]
    assert alert["column"] == "customer_id" and alert["observed"] == pytest.approx(0.1)
    store.close()

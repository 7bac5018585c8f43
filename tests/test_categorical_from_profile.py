"""Boolean value counts read off the profile scan (``Capabilities.boolean_text``) store the
same points as the categorical query that grouped them before: compared, point for point,
with the old path on a real DuckDB table (nulls, empty strings, high- and low-cardinality
text, booleans true-only, all-null and partly null), and on every engine that declares its
booleans' text (PostgreSQL, Snowflake via fakesnow)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from tests.engines import Engine, engine  # noqa: F401  (fixture)
from tidegauge.collector import CollectionResult, collect_table
from tidegauge.config import Defaults, TableSettings
from tidegauge.core.metrics import OTHER, Metric, ProfilePlan, fold_top_k
from tidegauge.core.model import TableInfo, TableRef
from tidegauge.warehouses.duckdb import DuckDBWarehouse, DuckDBWarehouseConfig

NOW = datetime(2024, 1, 4, 0, 30, tzinfo=UTC)

TABLE = """
CREATE TABLE shop.events AS
SELECT
  r AS id,
  TIMESTAMP '2024-01-01' + to_seconds(r * 97) AS created_at,
  CASE WHEN r % 7 = 0 THEN NULL ELSE r % 3 = 0 END AS flag,
  TRUE AS always,
  NULL::BOOLEAN AS unknown,
  CASE WHEN r < 1200 THEN NULL ELSE r % 2 = 0 END AS late_flag,
  ['a', 'b', 'c', NULL, ''][r % 5 + 1] AS kind,
  'user' || r::VARCHAR AS email,
  CASE WHEN r % 11 = 0 THEN NULL ELSE 'k' || (r % 4)::VARCHAR END AS grade,
  r % 13 AS qty
FROM range(2600) AS g(r)
"""


class _GroupedBooleans(DuckDBWarehouse):
    """DuckDB as it was: every categorical column grouped by the categorical query."""

    CAPABILITIES = replace(DuckDBWarehouse.CAPABILITIES, boolean_text=None)


def _warehouse(cls: type[DuckDBWarehouse], path: str) -> DuckDBWarehouse:
    wh = cls(DuckDBWarehouseConfig(path=path, name="d"))
    wh.connect()
    return wh


@pytest.fixture
def pair(tmp_path: Any) -> Any:
    path = str(tmp_path / "events.duckdb")
    con = duckdb.connect(path)
    con.execute("CREATE SCHEMA shop")
    con.execute(TABLE)
    con.close()
    new, old = _warehouse(DuckDBWarehouse, path), _warehouse(_GroupedBooleans, path)
    yield new, old
    new.close()
    old.close()


def _info(wh: DuckDBWarehouse) -> TableInfo:
    (info,) = [t for t in wh.list_tables() if t.ref == TableRef("d", "shop", "events")]
    return info


def _collect(wh: DuckDBWarehouse, defaults: Defaults, **kw: Any) -> CollectionResult:
    settings = kw.pop("settings", TableSettings(match="shop.events"))
    return collect_table(
        wh, _info(wh), settings, defaults, now=NOW, last_bucket=kw.pop("last", None)
    )


def _key(p: Any) -> tuple[Any, ...]:
    return (p.metric, p.column or "", p.segment or "", p.bucket_start, p.bucket_seconds, p.value)


def _categorical_sql(res: CollectionResult) -> list[str]:
    return [e.sql or "" for e in res.ledger if e.monitor == "categorical"]


@pytest.mark.parametrize(
    ("top_k", "max_distinct", "last"),
    [
        (50, 100, None),  # the defaults' shape: every boolean value named
        (1, 100, None),  # one value kept, the rest folded into __other__ per bucket
        (2, 2, None),  # booleans with three values (true, false, null) are high-cardinality
        (50, 100, datetime(2024, 1, 3, 12, tzinfo=UTC)),  # a later run's shorter window
    ],
)
def test_same_points_as_the_grouped_query(
    pair: Any, top_k: int, max_distinct: int, last: datetime | None
) -> None:
    new, old = pair
    defaults = Defaults(
        history_days=5, categorical_top_k=top_k, categorical_max_distinct=max_distinct
    )
    got, want = _collect(new, defaults, last=last), _collect(old, defaults, last=last)
    assert got.errors == want.errors == []
    assert sorted(map(_key, got.points)) == sorted(map(_key, want.points))
    assert sorted(got.skipped) == sorted(want.skipped)
    assert got.replaced == want.replaced
    # the booleans were grouped by the old query only
    (old_sql,) = _categorical_sql(want)
    new_sql = " ".join(_categorical_sql(got))  # none when every text column is high
    for boolean in ("flag", "always", "unknown", "late_flag"):
        assert f'"{boolean}"' in old_sql
        assert f'"{boolean}"' not in new_sql
    values = {p.segment for p in got.points if p.metric == Metric.VALUE_COUNT}
    if top_k == 1:
        assert OTHER in values
    if max_distinct == 2:
        assert not [p for p in got.points if p.column == "flag" and p.segment is not None]
        assert ("flag", "categorical: 3 distinct values > 2: values not stored") in got.skipped


def test_only_booleans_need_no_categorical_query(pair: Any) -> None:
    new, old = pair
    settings = TableSettings(match="shop.events", categorical_columns=["flag", "late_flag"])
    defaults = Defaults(history_days=5)
    got = _collect(new, defaults, settings=settings)
    want = _collect(old, defaults, settings=settings)
    assert _categorical_sql(got) == []
    assert len(_categorical_sql(want)) == 1
    assert sorted(map(_key, got.points)) == sorted(map(_key, want.points))
    counts = [p for p in got.points if p.metric == Metric.VALUE_COUNT]
    assert {p.segment for p in counts if p.column == "late_flag"} == {"true", "false", "__null__"}


def test_counts_of_a_column_no_longer_boolean_are_not_used(pair: Any, monkeypatch: Any) -> None:
    """Counts the profile read for a column that is not boolean now (its type changed between
    the two steps) are ignored: the query groups it."""
    new, old = pair
    read = ProfilePlan.boolean_value_counts

    def stale(self: ProfilePlan, *a: Any) -> Any:
        out = read(self, *a)
        out["kind"] = {None: {"true": 1}}  # as if "kind" had been a boolean
        return out

    monkeypatch.setattr(ProfilePlan, "boolean_value_counts", stale)
    defaults = Defaults(history_days=5)
    got, want = _collect(new, defaults), _collect(old, defaults)
    assert sorted(map(_key, got.points)) == sorted(map(_key, want.points))
    (sql,) = _categorical_sql(got)
    assert '"kind"' in sql


def test_a_sampled_profile_leaves_booleans_to_the_query(pair: Any) -> None:
    new, _ = pair
    res = _collect(
        new, Defaults(history_days=5), settings=TableSettings(match="*", sample_percent=50)
    )
    (sql,) = _categorical_sql(res)
    assert '"flag"' in sql


def test_fold_top_k_ranks_by_window_total_then_value() -> None:
    b1, b2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 1, tzinfo=UTC)
    counts: dict[str, dict[datetime | None, dict[str, int]]] = {
        "c": {b1: {"x": 2, "y": 3}, b2: {"x": 2, "z": 1, "w": 1}}
    }
    rows, distinct = fold_top_k(counts, 2)
    # totals: x 4, y 3, w 1, z 1: x and y kept; w and z folded (ties ordered by value)
    assert distinct == {"c": 4}
    assert sorted(rows) == sorted(
        [(b1, "c", "x", 2), (b1, "c", "y", 3), (b2, "c", "x", 2), (b2, "c", OTHER, 2)]
    )
    rows, _ = fold_top_k(counts, 3)
    assert (b2, "c", "w", 1) in rows and (b2, "c", OTHER, 1) in rows
    assert fold_top_k({"c": {}}, 5) == ([], {})


# --- every engine: the declared boolean text is what the engine's cast gives ----------------


def _rows() -> list[tuple[Any, ...]]:
    start = datetime(2024, 1, 1)
    rows = []
    for r in range(400):
        flag = None if r % 7 == 0 else r % 3 == 0
        late = None if r < 150 else r % 2 == 0
        kind = ["a", "b", None, ""][r % 4]
        rows.append((r, start + timedelta(minutes=9 * r), flag, True, None, late, kind))
    return rows


def test_same_points_on_every_engine(engine: Engine, monkeypatch: Any) -> None:  # noqa: F811
    ref = engine.seed(
        "events",
        {
            "id": "int",
            "created_at": "timestamp",
            "flag": "bool",
            "always": "bool",
            "unknown": "bool",
            "late_flag": "bool",
            "kind": "text",
        },
        _rows(),
    )
    wh = engine.warehouse
    (info,) = [t for t in wh.list_tables() if t.ref.name == ref.name]
    settings = TableSettings(match="*", field_health=True, categorical=True)
    defaults = Defaults(history_days=5, categorical_top_k=2)
    when = datetime(2024, 1, 4, 0, 30, tzinfo=UTC)
    got = collect_table(wh, info, settings, defaults, now=when, last_bucket=None)
    declared = wh.CAPABILITIES.boolean_text
    # this instance only: the old path, every categorical column grouped by the query
    monkeypatch.setattr(wh, "CAPABILITIES", replace(wh.CAPABILITIES, boolean_text=None))
    want = collect_table(wh, info, settings, defaults, now=when, last_bucket=None)
    assert got.errors == want.errors == []
    assert sorted(map(_key, got.points)) == sorted(map(_key, want.points))
    assert sorted(got.skipped) == sorted(want.skipped)
    if declared is not None:
        assert all('"flag"' not in sql.lower() for sql in _categorical_sql(got))
        values = {p.segment for p in got.points if p.column == "late_flag"} - {None}
        assert OTHER in values and len(values) == 3  # top 2 of true, false and null

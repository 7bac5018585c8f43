"""The metric catalogue: golden SQL per dialect, and DuckDB results checked against numpy.

Regenerate the goldens after an intended change with ``TIDEGAUGE_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from sqlglot import exp

from tidegauge.core.metrics import (
    OTHER,
    Agg,
    BucketSpec,
    CustomSQLError,
    Metric,
    Window,
    aggregates_for,
    bucket_starts,
    build_categorical_plan,
    build_profile_plan,
    build_segment_plan,
    floor_time,
    metrics_for,
    parse_custom_sql,
    profile_columns,
)
from tidegauge.core.metrics.keys import build_duplicate_examples_query, build_orphan_query
from tidegauge.core.model import ColumnInfo, TypeFamily
from tidegauge.warehouses.registry import WAREHOUSES, adapter_class

GOLDEN = Path(__file__).parent / "golden"
F = TypeFamily
NOW = datetime(2024, 3, 3, 12, 0, tzinfo=UTC)
WINDOW = Window(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC))

#: each engine's capabilities as its adapter declares them (core never names an engine)
CAPS = {kind: adapter_class(kind).CAPABILITIES for kind in WAREHOUSES}

COLUMNS = [
    ColumnInfo("i", "INTEGER", F.INTEGER),
    ColumnInfo("f", "DOUBLE", F.FLOAT),
    ColumnInfo("d", "DECIMAL(10,2)", F.DECIMAL),
    ColumnInfo("s", "VARCHAR", F.STRING),
    ColumnInfo("b", "BOOLEAN", F.BOOLEAN),
    ColumnInfo("ts", "TIMESTAMP", F.TIMESTAMP),
    ColumnInfo("dt", "DATE", F.DATE),
    ColumnInfo("tm", "TIME", F.TIME),
    ColumnInfo("allnull", "INTEGER", F.INTEGER),
    ColumnInfo("j", "JSON", F.JSON),
    ColumnInfo("arr", "INTEGER[]", F.ARRAY),
    ColumnInfo("st", "STRUCT(a INTEGER)", F.STRUCT),
    ColumnInfo("iv", "INTERVAL", F.INTERVAL),
    ColumnInfo("bl", "BLOB", F.BINARY),
]
TABLE = exp.table_("t", db="s", quoted=True)


# --- golden SQL --------------------------------------------------------------------------


def golden_sql(dialect: str) -> str:
    caps = CAPS[dialect]
    bucket = BucketSpec(COLUMNS[5], 3600)
    parts = []
    plan = build_profile_plan(TABLE, COLUMNS, caps, bucket=bucket, window=WINDOW, now=NOW)
    parts += [f"-- profile\n{q.query.sql(dialect, pretty=True)}" for q in plan.queries]
    sampled = build_profile_plan(TABLE, COLUMNS[:2], caps, sample_percent=10, now=NOW)
    parts.append(f"-- profile, sampled, no bucket\n{sampled.queries[0].query.sql(dialect)}")
    cat = build_categorical_plan(
        TABLE, [COLUMNS[3], COLUMNS[4]], caps, top_k=5, bucket=bucket, window=WINDOW
    )
    parts.append(f"-- categorical ({cat.strategy})\n{cat.query.sql(dialect, pretty=True)}")
    seg = build_segment_plan(
        TABLE,
        COLUMNS,
        [COLUMNS[3], COLUMNS[4]],
        caps,
        max_segments=10,
        bucket=BucketSpec(COLUMNS[6], 86400),
        window=WINDOW,
    )
    parts.append(f"-- segments\n{seg.queries[0].query.sql(dialect, pretty=True)}")
    return "\n\n".join(parts) + "\n"


def golden_keys_sql(dialect: str) -> str:
    """Key integrity: a key column's profile, its duplicate examples, an orphan rate."""
    caps = CAPS[dialect]
    bucket = BucketSpec(COLUMNS[5], 86400)
    key = ColumnInfo("order_id", "BIGINT", F.INTEGER)
    plan = build_profile_plan(
        TABLE, [key, COLUMNS[5]], caps, bucket=bucket, window=WINDOW, keys=["order_id"]
    )
    examples = build_duplicate_examples_query(TABLE, key, caps, bucket=bucket, window=WINDOW)
    parent = exp.table_("customers", db="s", quoted=True)
    orphans = build_orphan_query(TABLE, key, parent, "id", caps, bucket=bucket, window=WINDOW)
    return (
        "\n\n".join(
            [
                f"-- profile of a key\n{plan.queries[0].query.sql(dialect, pretty=True)}",
                f"-- duplicate examples\n{examples.sql(dialect, pretty=True)}",
                f"-- orphans\n{orphans.sql(dialect, pretty=True)}",
            ]
        )
        + "\n"
    )


@pytest.mark.parametrize("dialect", sorted(CAPS))
def test_golden_keys_sql(dialect: str) -> None:
    path = GOLDEN / f"keys_{dialect}.sql"
    text = golden_keys_sql(dialect)
    if os.environ.get("TIDEGAUGE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with TIDEGAUGE_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


@pytest.mark.parametrize("dialect", sorted(CAPS))
def test_golden_sql(dialect: str) -> None:
    path = GOLDEN / f"profile_{dialect}.sql"
    text = golden_sql(dialect)
    if os.environ.get("TIDEGAUGE_UPDATE_GOLDEN"):
        path.write_text(text)
    # a missing golden is a failure, not a file quietly written with whatever the code says
    assert path.exists(), f"{path} is missing: run with TIDEGAUGE_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


def test_dialect_specifics() -> None:
    my = golden_sql("mysql")
    assert "COUNT_IF" not in my and "PERCENTILE" not in my and "APPROX" not in my
    assert "TABLESAMPLE" not in my and "GROUPING SETS" not in my
    assert "STDDEV_SAMP" in my and "CHAR_LENGTH" in my
    pg = golden_sql("postgres")
    assert "PERCENTILE_CONT(ARRAY[0.01, 0.25, 0.5, 0.75, 0.99]) WITHIN GROUP" in pg
    assert "COUNT(DISTINCT" in pg and "TABLESAMPLE SYSTEM (10)" in pg
    sf = golden_sql("snowflake")
    assert sf.count("PERCENTILE_CONT(0.5) WITHIN GROUP") >= 3 and "APPROX_COUNT_DISTINCT" in sf
    dd = golden_sql("duckdb")
    assert "QUANTILE_CONT" in dd and "COUNT_IF" in dd and "GROUPING SETS" in dd


def test_unprofilable_types_are_skipped_with_a_reason() -> None:
    _, skipped = profile_columns(COLUMNS, exclude=["F"])
    reasons = dict(skipped)
    assert set(reasons) == {"f", "j", "arr", "st", "iv", "bl"}
    assert reasons["f"] == "excluded by configuration"
    assert "JSON" in reasons["j"] and "arrays" in reasons["arr"] and "interval" in reasons["iv"]
    plan = build_profile_plan(TABLE, COLUMNS, CAPS["duckdb"])
    names = {o.column for q in plan.queries for o in q.outputs}
    assert names == {"i", "f", "d", "s", "b", "ts", "dt", "tm", "allnull"}


def test_metric_catalogue_by_family() -> None:
    assert Metric.P50 in metrics_for(F.FLOAT, CAPS["duckdb"])
    assert Metric.P50 not in metrics_for(F.FLOAT, CAPS["mysql"])
    assert set(metrics_for(F.STRING, CAPS["mysql"])) == {
        Metric.NULL_COUNT, Metric.NULL_RATE, Metric.DISTINCT_COUNT, Metric.LEN_MIN,
        Metric.LEN_MAX, Metric.LEN_MEAN, Metric.EMPTY_RATE,
    }  # fmt: skip
    assert Metric.FUTURE_RATE in metrics_for(F.TIMESTAMP, CAPS["postgres"])
    assert Metric.TRUE_RATE in metrics_for(F.BOOLEAN, CAPS["postgres"])


def test_select_limit_splits_into_few_scans_and_merges() -> None:
    cols = [ColumnInfo(f"c{i}", "INTEGER", F.INTEGER) for i in range(400)]
    pg = build_profile_plan(TABLE, cols, CAPS["postgres"], bucket=None)
    assert len(pg.queries) == 3  # 400 columns x 9 aggregates / 1600 per query
    assert all(len(q.query.expressions) <= 1600 for q in pg.queries)
    assert len(build_profile_plan(TABLE, cols[:150], CAPS["duckdb"]).queries) == 1
    # DuckDB crashes on 256+ HLL aggregates in one grouped query: 400 columns take two scans
    assert len(build_profile_plan(TABLE, cols, CAPS["duckdb"]).queries) == 2


def test_a_key_column_gets_exact_duplicates_and_no_distribution_statistics() -> None:
    cols = [ColumnInfo("order_id", "BIGINT", F.INTEGER), COLUMNS[5]]
    plan = build_profile_plan(
        TABLE, cols, CAPS["duckdb"], bucket=BucketSpec(COLUMNS[5]), window=WINDOW, keys=["ORDER_ID"]
    )
    aggs = {o.agg for o in plan.queries[0].outputs if o.column == "order_id"}
    assert aggs == {Agg.NONNULL, Agg.KEY_DISTINCT, Agg.MIN, Agg.MAX}
    sql = plan.queries[0].query.sql("duckdb")
    assert 'COUNT(DISTINCT "order_id")' in sql and "APPROX_COUNT_DISTINCT" not in sql
    # a sample cannot say whether keys repeat: no duplicate count at all
    sampled = build_profile_plan(TABLE, cols, CAPS["duckdb"], sample_percent=10, keys=["order_id"])
    assert Agg.KEY_DISTINCT not in {o.agg for o in sampled.queries[0].outputs}


@pytest.mark.parametrize("dialect", sorted(CAPS))
def test_identifier_like_columns_get_no_distribution_statistics(dialect: str) -> None:
    """A user id's mean or median describes nothing (detection never scores them) and an
    exact quantile is a sort per bucket: names like ``id``/``user_id`` skip them, amounts
    keep them, and a table whose ``metrics`` ask for them gets them."""
    caps = CAPS[dialect]
    cols = [
        ColumnInfo("id", "BIGINT", F.INTEGER),
        ColumnInfo("User_ID", "BIGINT", F.INTEGER),
        ColumnInfo("paid_amount", "DOUBLE", F.FLOAT),
        COLUMNS[5],
    ]
    plan = build_profile_plan(TABLE, cols, caps, bucket=BucketSpec(COLUMNS[5]), window=WINDOW)
    by_column: dict[str, set[Agg]] = defaultdict(set)
    for q in plan.queries:
        for o in q.outputs:
            by_column[o.column].add(o.agg)
    distribution = {Agg.MEAN, Agg.STDDEV, Agg.QUANTILES, Agg.P50}
    for name in ("id", "User_ID"):
        assert not by_column[name] & distribution, name
        assert {Agg.NONNULL, Agg.MIN, Agg.MAX, Agg.ZERO} <= by_column[name]
    assert {Agg.MEAN, Agg.STDDEV} <= by_column["paid_amount"]
    if caps.quantiles:
        assert by_column["paid_amount"] & {Agg.QUANTILES, Agg.P50}
    asked = build_profile_plan(TABLE, cols, caps, only=aggregates_for(["mean", "null_rate"]))
    assert Agg.MEAN in {o.agg for o in asked.queries[0].outputs if o.column == "id"}


def test_duplicates_of_a_key_with_nulls_and_no_timestamp_on_duckdb() -> None:
    c = duckdb.connect()
    c.execute(
        "CREATE TABLE k AS SELECT * FROM (VALUES (1), (2), (2), (3), (3), (3), (NULL), (NULL)) "
        "t(order_id)"
    )
    cols = [ColumnInfo("order_id", "INTEGER", F.INTEGER)]
    plan = build_profile_plan(exp.to_table("k"), cols, CAPS["duckdb"], keys=["order_id"])
    (row,) = plan.read([run(c, q.query) for q in plan.queries])
    got = {v.metric: v.value for v in row.values}
    # 6 non-null keys, 3 distinct: 3 rows repeat a key; NULLs are nulls, not duplicates
    assert got[Metric.DUPLICATE_COUNT] == 3 and got[Metric.DUPLICATE_RATE] == 3 / 8
    assert got[Metric.NULL_COUNT] == 2 and Metric.MEAN not in got
    assert Metric.DISTINCT_COUNT not in got


# --- executed on DuckDB, compared with numpy -----------------------------------------------


@pytest.fixture(scope="module")
def con() -> Any:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    c.execute("CREATE SCHEMA s")
    c.execute(
        """
        CREATE TABLE s.t AS
        SELECT
          CASE WHEN r % 11 = 0 THEN NULL ELSE (hash(r) % 41)::INTEGER - 10 END AS i,
          CASE WHEN r % 13 = 0 THEN NULL ELSE (hash(r + 7) % 100000) / 997.0 - 20 END AS f,
          ((hash(r + 3) % 100000) / 100.0)::DECIMAL(10, 2) AS d,
          CASE WHEN r % 9 = 0 THEN NULL WHEN r % 17 = 0 THEN ''
               ELSE 'v' || (hash(r + 1) % 7)::VARCHAR || repeat('x', (r % 4)::INTEGER) END AS s,
          CASE WHEN r % 5 = 0 THEN NULL ELSE hash(r + 2) % 3 = 0 END AS b,
          TIMESTAMP '2024-03-01 00:00:00' + to_seconds(((hash(r + 5) % 216000))::BIGINT) AS ts,
          (DATE '2024-03-01' + (r % 5)::INTEGER) AS dt,
          TIME '00:00:00' + to_seconds((r % 86400)::BIGINT) AS tm,
          NULL::INTEGER AS allnull,
          '{"a": 1}'::JSON AS j, [1, 2] AS arr, {'a': 1} AS st, INTERVAL 1 DAY AS iv,
          'ab'::BLOB AS bl
        FROM range(6000) AS g(r)
        """
    )
    return c


def run(con: Any, q: exp.Expression) -> tuple[list[str], list[tuple[Any, ...]]]:
    cur = con.execute(q.sql("duckdb"))
    return [d[0] for d in cur.description], cur.fetchall()


def expected_by_bucket(con: Any) -> dict[datetime, dict[str, dict[Metric, float]]]:
    rows = con.execute("SELECT i, f, d, s, b, ts, dt, tm, allnull FROM s.t").fetchall()
    names = ["i", "f", "d", "s", "b", "ts", "dt", "tm", "allnull"]
    groups: dict[datetime, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        ts = r[5].replace(tzinfo=UTC)
        if WINDOW.since <= ts < WINDOW.until:  # type: ignore[operator]
            groups[floor_time(ts, 3600)].append(r)
    out: dict[datetime, dict[str, dict[Metric, float]]] = {}
    for b, grp in groups.items():
        per: dict[str, dict[Metric, float]] = {"": {Metric.BUCKET_ROW_COUNT: len(grp)}}
        for j, name in enumerate(names):
            vals = [g[j] for g in grp]
            nn = [v for v in vals if v is not None]
            m: dict[Metric, float] = {
                Metric.NULL_COUNT: len(vals) - len(nn),
                Metric.NULL_RATE: (len(vals) - len(nn)) / len(vals),
            }
            if name not in ("b", "ts", "dt"):  # no distinct count of a timestamp or date
                m[Metric.DISTINCT_COUNT] = len(set(nn))
            if name in ("i", "f", "d", "allnull") and nn:
                a = np.array([float(v) for v in nn])
                m |= {Metric.MIN: a.min(), Metric.MAX: a.max(), Metric.MEAN: a.mean(),
                      Metric.ZERO_RATE: float(np.mean(a == 0)),
                      Metric.NEGATIVE_RATE: float(np.mean(a < 0))}  # fmt: skip
                if len(a) > 1:
                    m[Metric.STDDEV] = float(a.std(ddof=1))
                for metric, q in zip([Metric.P01, Metric.P25, Metric.P50, Metric.P75, Metric.P99],
                                     [1, 25, 50, 75, 99], strict=True):  # fmt: skip
                    m[metric] = float(np.percentile(a, q))  # linear == quantile_cont
            if name == "s" and nn:
                lens = np.array([len(v) for v in nn])
                m |= {Metric.LEN_MIN: lens.min(), Metric.LEN_MAX: lens.max(),
                      Metric.LEN_MEAN: lens.mean(),
                      Metric.EMPTY_RATE: sum(v == "" for v in nn) / len(nn)}  # fmt: skip
            if name == "b" and nn:
                m[Metric.TRUE_RATE] = sum(nn) / len(nn)
            if name in ("ts", "dt") and nn:

                def epoch(v: Any) -> float:
                    if isinstance(v, datetime):
                        return v.replace(tzinfo=UTC).timestamp()
                    return datetime(v.year, v.month, v.day, tzinfo=UTC).timestamp()

                m[Metric.MIN] = min(epoch(v) for v in nn)
                m[Metric.MAX] = max(epoch(v) for v in nn)
                now_cmp = NOW.replace(tzinfo=None) if name == "ts" else NOW.date()
                m[Metric.FUTURE_RATE] = sum(v > now_cmp for v in nn) / len(nn)
            per[name] = m
        out[b] = per
    return out


@pytest.mark.parametrize("approx", [False, True])
def test_duckdb_profile_matches_numpy(con: Any, approx: bool) -> None:
    caps = replace(CAPS["duckdb"], approx_distinct=approx)
    plan = build_profile_plan(
        TABLE, COLUMNS, caps, bucket=BucketSpec(COLUMNS[5], 3600), window=WINDOW, now=NOW
    )
    got_rows = plan.read([run(con, q.query) for q in plan.queries])
    expected = expected_by_bucket(con)
    assert {r.bucket for r in got_rows} == set(expected)
    assert len(expected) == 48
    checked = 0
    for row in got_rows:
        assert row.bucket is not None
        exp_b = expected[row.bucket]
        assert row.row_count == exp_b[""][Metric.BUCKET_ROW_COUNT]
        got: dict[str, dict[Metric, float]] = defaultdict(dict)
        for v in row.values:
            assert v.column is not None
            got[v.column][v.metric] = v.value
        for column, metrics in exp_b.items():
            if not column:
                continue
            assert set(got[column]) == set(metrics), column
            for metric, want in metrics.items():
                have = got[column][metric]
                if metric is Metric.DISTINCT_COUNT and approx:
                    assert have == pytest.approx(want, rel=0.1, abs=2), (column, metric)
                else:
                    assert have == pytest.approx(want, rel=1e-9, abs=1e-9), (column, metric)
                checked += 1
    # the all-null column yields counts and rates, never a fake zero mean
    assert checked > 48 * 50


def test_split_plan_gives_the_same_values(con: Any) -> None:
    whole = build_profile_plan(TABLE, COLUMNS, CAPS["duckdb"], now=NOW)
    split = build_profile_plan(TABLE, COLUMNS, replace(CAPS["duckdb"], max_select_items=9), now=NOW)
    assert len(split.queries) > 3

    def flat(plan: Any) -> dict[tuple[Any, ...], float]:
        rows = plan.read([run(con, q.query) for q in plan.queries])
        assert len(rows) == 1 and rows[0].row_count == 6000
        return {(v.column, v.metric): v.value for v in rows[0].values}

    assert flat(whole) == flat(split)


def test_empty_window_and_sampling(con: Any) -> None:
    empty = Window(datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))
    plan = build_profile_plan(TABLE, COLUMNS, CAPS["duckdb"], bucket=BucketSpec(COLUMNS[5]),
                              window=empty)  # fmt: skip
    assert plan.read([run(con, q.query) for q in plan.queries]) == []
    # SYSTEM sampling keeps whole vectors (2,048 rows): use a table big enough to sample
    con.execute(
        "CREATE TABLE s.big AS SELECT range % 7 AS i, NULL::INTEGER AS n FROM range(300000)"
    )
    cols = [ColumnInfo("i", "INTEGER", F.INTEGER), ColumnInfo("n", "INTEGER", F.INTEGER)]
    big = exp.table_("big", db="s", quoted=True)
    sampled = build_profile_plan(big, cols, CAPS["duckdb"], sample_percent=50)
    assert "TABLESAMPLE SYSTEM (50 PERCENT)" in sampled.queries[0].query.sql("duckdb")
    rows = sampled.read([run(con, q.query) for q in sampled.queries])
    assert 0 < rows[0].row_count < 300000
    metrics = {v.metric for v in rows[0].values}
    assert Metric.NULL_RATE in metrics and Metric.MEAN in metrics
    assert Metric.NULL_COUNT not in metrics and Metric.DISTINCT_COUNT not in metrics


@pytest.mark.parametrize("strategy", ["grouping_sets", "union"])
def test_categorical_top_k_and_other(con: Any, strategy: str) -> None:
    cols = [COLUMNS[3], COLUMNS[4]]
    plan = build_categorical_plan(
        TABLE, cols, CAPS["duckdb"], top_k=3, bucket=BucketSpec(COLUMNS[5], 86400),
        window=WINDOW, strategy=strategy,
    )  # fmt: skip
    names, rows = run(con, plan.query)
    got = {(b, c, v): n for b, c, v, n in plan.read(names, rows)}
    data = con.execute(
        "SELECT s, b::VARCHAR, ts FROM s.t WHERE ts >= '2024-03-01' AND ts < '2024-03-03'"
    ).fetchall()
    for j, col in enumerate(["s", "b"]):
        values = ["__null__" if r[j] is None else r[j] for r in data]
        top = [v for v, _ in sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))][:3]
        want: Counter[tuple[Any, ...]] = Counter()
        for r, v in zip(data, values, strict=True):
            day = floor_time(r[2], 86400)
            want[(day, col, v if v in top else OTHER)] += 1
        assert {k: n for k, n in got.items() if k[1] == col} == dict(want)


def test_segments_top_by_volume_plus_other(con: Any) -> None:
    plan = build_segment_plan(
        TABLE,
        COLUMNS,
        [COLUMNS[6], COLUMNS[4]],
        CAPS["duckdb"],
        max_segments=4,
    )
    rows = plan.read([run(con, q.query) for q in plan.queries])
    counts = {r.segment: r.row_count for r in rows}
    data = con.execute("SELECT dt, b FROM s.t").fetchall()
    keys = Counter(f"dt={d}|b={'__null__' if b is None else str(b).lower()}" for d, b in data)
    top = dict(keys.most_common(4))
    assert {k: v for k, v in counts.items() if k != OTHER} == top
    assert counts[OTHER] == 6000 - sum(top.values())
    one = next(r for r in rows if r.segment != OTHER)
    metrics = {(v.column, v.metric) for v in one.values}
    assert ("i", Metric.MEAN) in metrics and ("s", Metric.NULL_RATE) in metrics
    assert not any(c in ("dt", "b") for c, _ in metrics)


def test_bucket_helpers() -> None:
    t = datetime(2024, 3, 1, 10, 30, tzinfo=UTC)
    assert floor_time(t, 3600) == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert floor_time(t, 86400) == datetime(2024, 3, 1, tzinfo=UTC)
    starts = bucket_starts(t, t + timedelta(hours=3), 3600)
    assert [s.hour for s in starts] == [10, 11, 12, 13]
    assert BucketSpec(COLUMNS[6], 3600).effective().seconds == 86400
    assert date(2024, 1, 1)  # dates bucket by day whatever the configured unit


# --- custom SQL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM t WHERE x < 0",
        "WITH a AS (SELECT 1 AS v) SELECT v FROM a",
        "SELECT 1 UNION ALL SELECT 2",
        "select date_trunc('day', ts) as bucket, count(*) from t group by 1",
    ],
)
def test_custom_sql_accepts_read_only_selects(sql: str) -> None:
    assert isinstance(parse_custom_sql(sql, "duckdb"), exp.Query)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM t", "only a single SELECT is allowed, got DELETE"),
        ("SELECT 1; DROP TABLE t", "exactly one statement is allowed, got 2"),
        ("UPDATE t SET x = 1", "got UPDATE"),
        ("CREATE TABLE x AS SELECT 1", "got CREATE"),
        ("SELECT * INTO x FROM t", "found INTO"),
        ("SELECT * FROM t FOR UPDATE", "found LOCK"),
        ("INSERT INTO t SELECT 1", "got INSERT"),
        ("", "exactly one statement is allowed, got 0"),
        ("SELEC 1 FROM", "cannot parse SQL"),
    ],
)
def test_custom_sql_rejects_everything_else(sql: str, message: str) -> None:
    with pytest.raises(CustomSQLError, match="custom metric") as err:
        parse_custom_sql(sql, "postgres")
    assert message in str(err.value)


def test_nan_is_no_value() -> None:
    from tidegauge.core.metrics.profile import _number

    assert _number(float("nan")) is None
    assert _number(math.inf) == math.inf
    assert Agg.NONNULL.value == "nonnull"


def test_a_tables_own_key_is_told_from_other_tables_ids() -> None:
    from tidegauge.core.metrics.names import own_key_like

    assert own_key_like("id", "bids") and own_key_like("bid_id", "bids")
    assert own_key_like("order_key", "fct_orders") and own_key_like("category_id", "categories")
    assert own_key_like("box_id", "boxes") and own_key_like("address_id", "address")
    assert not own_key_like("bidder_id", "bids")
    assert not own_key_like("order_id", "payments")
    assert not own_key_like("viewer_peak", "shows")

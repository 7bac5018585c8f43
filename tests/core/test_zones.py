"""Naive wall-clock timestamps of a warehouse zone and their UTC instants (core, no server)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from tidegauge.core.clock import (
    check_zone,
    transitions,
    utc_to_wall,
    wall_to_utc,
    zone_map,
)
from tidegauge.core.metrics import (
    BucketSpec,
    Capabilities,
    Window,
    build_bucket_count_query,
    build_max_query,
    build_profile_plan,
    naive_timestamp,
)
from tidegauge.core.model import ColumnInfo, TypeFamily
from tidegauge.warehouses.registry import adapter_class

BERLIN = "Europe/Berlin"
SPRING = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 02:00 CET -> 03:00 CEST
FALL = datetime(2026, 10, 25, 1, tzinfo=UTC)  # 03:00 CEST -> 02:00 CET
TABLE = exp.to_table('"raw"."events"')
NAIVE = ColumnInfo("created_at", "TIMESTAMP", TypeFamily.TIMESTAMP)
DIALECTS = ("duckdb", "postgres", "mysql", "snowflake")
#: a zone's naive column type and its time-zone-aware type, per dialect
TYPES = {
    "duckdb": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"),
    "postgres": ("timestamp without time zone", "timestamp with time zone"),
    "mysql": ("datetime", "timestamp"),
    "snowflake": ("TIMESTAMP_NTZ", "TIMESTAMP_TZ"),
}
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/St_Johns",  # -03:30 / -02:30
    "Pacific/Apia",  # skipped a whole day in 2011
    "UTC",
    "+05:30",
]


def col(data_type: str) -> ColumnInfo:
    return ColumnInfo("created_at", data_type, TypeFamily.TIMESTAMP)


# --- zone names ------------------------------------------------------------------------------


def test_zone_names_are_canonicalised() -> None:
    assert check_zone("europe/berlin") == "Europe/Berlin"
    assert check_zone(" UTC ") == "UTC"
    assert check_zone("utc") == "UTC"
    assert check_zone("+5:30") == "+05:30"
    assert check_zone("UTC-08:00") == "-08:00"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Europe/Berln", "did you mean 'Europe/Berlin'"),
        ("America", "unknown time zone 'America'"),  # a directory of the database
        ("../../etc/passwd", "unknown time zone"),
        ("", "unknown time zone"),
        ("+25:00", "out of range"),
    ],
)
def test_bad_zone_names_say_why(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_zone(name)


# --- the wall-clock map ------------------------------------------------------------------------


def test_berlin_transitions_of_2026() -> None:
    found = transitions(BERLIN, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    h = timedelta(hours=1)
    assert found == [(SPRING, h, 2 * h), (FALL, 2 * h, h)]


def test_spring_forward_has_no_gap_in_utc() -> None:
    m = zone_map(BERLIN, SPRING - timedelta(hours=6), SPRING + timedelta(hours=6))
    walls = [datetime(2026, 3, 29, 1, 59), datetime(2026, 3, 29, 3, 0)]  # consecutive minutes
    assert [m.to_utc(w) for w in walls] == [datetime(2026, 3, 29, 0, 59), datetime(2026, 3, 29, 1)]
    # a wall time that never existed is the transition instant itself
    assert m.to_utc(datetime(2026, 3, 29, 2, 30)) == datetime(2026, 3, 29, 1)


def test_fall_back_hour_lands_in_two_utc_hours() -> None:
    m = zone_map(BERLIN, FALL - timedelta(hours=6), FALL + timedelta(hours=6))
    # the repeated 02:00-02:59: first half with the summer offset, second half with winter's
    assert m.to_utc(datetime(2026, 10, 25, 2, 0)) == datetime(2026, 10, 25, 0, 0)
    assert m.to_utc(datetime(2026, 10, 25, 2, 29, 59)) == datetime(2026, 10, 25, 0, 29, 59)
    assert m.to_utc(datetime(2026, 10, 25, 2, 30)) == datetime(2026, 10, 25, 1, 30)
    assert m.to_utc(datetime(2026, 10, 25, 3, 0)) == datetime(2026, 10, 25, 2, 0)
    # a window edge at the transition instant splits the repeated hour at its midpoint
    assert m.to_wall(FALL) == datetime(2026, 10, 25, 2, 30)


def test_a_skipped_day_and_a_half_hour_shift() -> None:
    # Samoa moved from -10:00 to +14:00 at the end of 29 December 2011: the 30th never was
    apia = zone_map(
        "Pacific/Apia", datetime(2011, 12, 29, tzinfo=UTC), datetime(2011, 12, 31, tzinfo=UTC)
    )
    assert apia.to_utc(datetime(2011, 12, 29, 23, 59)) == datetime(2011, 12, 30, 9, 59)
    assert apia.to_utc(datetime(2011, 12, 30, 12)) == datetime(2011, 12, 30, 10)
    assert apia.to_utc(datetime(2011, 12, 31, 0, 1)) == datetime(2011, 12, 30, 10, 1)
    # Lord Howe falls back by 30 minutes: the repeated half hour splits at 01:45
    lh = zone_map(
        "Australia/Lord_Howe", datetime(2026, 4, 4, tzinfo=UTC), datetime(2026, 4, 6, tzinfo=UTC)
    )
    first, second = lh.to_utc(datetime(2026, 4, 5, 1, 40)), lh.to_utc(datetime(2026, 4, 5, 1, 50))
    assert second - first == timedelta(minutes=40)


def test_kolkata_is_a_fixed_half_hour_offset() -> None:
    assert wall_to_utc(datetime(2026, 1, 1, 5, 29), "Asia/Kolkata") == datetime(
        2025, 12, 31, 23, 59, tzinfo=UTC
    )
    assert utc_to_wall(datetime(2026, 1, 1, tzinfo=UTC), "Asia/Kolkata") == datetime(
        2026, 1, 1, 5, 30
    )


def test_the_map_is_the_same_whatever_span_it_was_built_for() -> None:
    """A window ending at the transition and the next one starting there agree on its edge."""
    before = zone_map(BERLIN, FALL - timedelta(hours=5), FALL)
    after = zone_map(BERLIN, FALL, FALL + timedelta(hours=5))
    assert before.to_wall(FALL) == after.to_wall(FALL)
    for minute in range(0, 180, 7):
        w = datetime(2026, 10, 25, 1) + timedelta(minutes=minute)
        assert before.to_utc(w) == after.to_utc(w)


instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and an instant, most often within a few hours of one of its transitions."""
    zone = draw(st.sampled_from(ZONES))
    at = draw(instants)
    year = datetime(at.year, 1, 1, tzinfo=UTC)
    found = transitions(zone, year, year.replace(year=at.year + 1))
    # nested, not `found and draw(...)`: mypy would type the draw from `found`
    if found:  # noqa: SIM102
        if draw(st.booleans()):
            t = draw(st.sampled_from(found))[0]
            at = t + timedelta(seconds=draw(st.integers(-4 * 3600, 4 * 3600)))
    return zone, at


@settings(max_examples=400, deadline=None)
@given(
    za=zone_and_instant(), a=st.integers(-4 * 3600, 4 * 3600), b=st.integers(-4 * 3600, 4 * 3600)
)
def test_window_bounds_on_the_raw_column_select_the_same_rows(
    za: tuple[str, datetime], a: int, b: int
) -> None:
    """``to_utc(w) >= u`` exactly when ``w >= to_wall(u)``, and the map never goes back."""
    zone, at = za
    m = zone_map(zone, at - timedelta(days=1), at + timedelta(days=1))
    naive = at.replace(tzinfo=None)
    w1, w2 = naive + timedelta(seconds=a), naive + timedelta(seconds=b)
    u = at + timedelta(seconds=(a + b) // 2)
    bound = m.to_wall(u)
    naive_u = u.replace(tzinfo=None)
    # the bound is the first wall time at or after u: a second earlier is before u
    assert m.to_utc(bound) >= naive_u > m.to_utc(bound - timedelta(microseconds=1))
    assert (m.to_utc(w1) >= u.replace(tzinfo=None)) == (w1 >= bound)
    assert (m.to_utc(w2) >= u.replace(tzinfo=None)) == (w2 >= bound)
    if w1 <= w2:
        assert m.to_utc(w1) <= m.to_utc(w2)


@settings(max_examples=400, deadline=None)
@given(za=zone_and_instant())
def test_unambiguous_wall_times_match_the_zone_database(za: tuple[str, datetime]) -> None:
    zone, at = za
    if zone.startswith("+"):
        return
    tz = ZoneInfo(zone)
    wall = at.astimezone(tz).replace(tzinfo=None)
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        return  # the repeated hour: covered by the midpoint rule above
    assert wall_to_utc(wall, zone) == at


# --- the pushed-down SQL -----------------------------------------------------------------------


def engine_caps(dialect: str, zone: str = "UTC") -> Capabilities:
    """What the engine's adapter declares, in ``zone``."""
    return replace(adapter_class(dialect).CAPABILITIES, zone=zone)


def _hour_query(dialect: str, zone: str, window: Window, column: ColumnInfo = NAIVE) -> str:
    caps = engine_caps(dialect, zone)
    return build_bucket_count_query(TABLE, caps, BucketSpec(column), window).sql(dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_window_without_transition_shifts_by_one_offset(dialect: str) -> None:
    week = Window(datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 8, tzinfo=UTC))
    column = col(TYPES[dialect][0])
    sql = _hour_query(dialect, BERLIN, week, column)
    assert "7200" in sql and "CASE" not in sql
    # bounds are Berlin wall times: 2026-07-01 00:00 UTC is 02:00 CEST
    assert "2026-07-01 02:00:00" in sql and "2026-07-08 02:00:00" in sql
    kolkata = _hour_query(dialect, "Asia/Kolkata", week, column)
    assert "19800" in kolkata and "2026-07-01 05:30:00" in kolkata


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_window_with_a_transition_converts_piecewise(dialect: str) -> None:
    sql = _hour_query(
        dialect,
        BERLIN,
        Window(FALL - timedelta(days=1), FALL + timedelta(hours=5)),
        col(TYPES[dialect][0]),
    )
    assert "CASE" in sql and "2026-10-25 02:30:00" in sql  # the midpoint of the repeated hour


@pytest.mark.parametrize("dialect", DIALECTS)
def test_columns_with_a_time_zone_and_utc_warehouses_are_unaffected(dialect: str) -> None:
    window = Window(FALL - timedelta(days=1), FALL + timedelta(hours=5))
    naive, aware = (col(t) for t in TYPES[dialect])
    assert _hour_query(dialect, BERLIN, window, aware) == _hour_query(dialect, "UTC", window, aware)
    assert _hour_query(dialect, "UTC", window, naive) == _hour_query(
        dialect, "Etc/UTC", window, naive
    )
    caps = engine_caps(dialect)
    assert naive_timestamp(naive, caps) and not naive_timestamp(aware, caps)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_future_rate_and_freshness_compare_with_the_wall_time_of_now(dialect: str) -> None:
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    column = col(TYPES[dialect][0])
    caps = engine_caps(dialect, "Asia/Kolkata")
    plan = build_profile_plan(TABLE, [column], caps, now=now)
    assert "2026-07-01 17:30:00" in plan.queries[0].query.sql(dialect)
    assert plan.wall_columns == frozenset({"created_at"})
    q = build_max_query(TABLE, column, count=False, now=now, caps=caps)
    assert q is not None and "2026-07-01 17:30:00" in q.sql(dialect)
    # a DATE column: the zone's date today (already 2 July in Kolkata at 20:00 UTC)
    day = ColumnInfo("order_date", "DATE", TypeFamily.DATE)
    late = datetime(2026, 7, 1, 20, tzinfo=UTC)
    q = build_max_query(TABLE, day, count=False, now=late, caps=caps)
    assert q is not None and "2026-07-02" in q.sql(dialect)


def test_min_max_of_a_naive_column_are_read_as_instants() -> None:
    caps = Capabilities("duckdb", zone=BERLIN)
    plan = build_profile_plan(TABLE, [NAIVE], caps)
    names = ["row_count", *[o.name for o in plan.queries[0].outputs]]
    values = {
        "row_count": 2,
        "c0_nonnull": 2,
        "c0_distinct": 2,
        "c0_min": datetime(2026, 7, 1, 2),
        "c0_max": datetime(2026, 7, 1, 3),
    }
    (row,) = plan.read([(names, [tuple(values.get(n) for n in names)])])
    got = {v.metric.value: v.value for v in row.values}
    assert got["min"] == datetime(2026, 7, 1, 0, tzinfo=UTC).timestamp()
    assert got["max"] == datetime(2026, 7, 1, 1, tzinfo=UTC).timestamp()


def test_the_sql_conversion_agrees_with_python_on_duckdb() -> None:
    """Every wall minute around both 2026 transitions, converted by DuckDB from the rendered
    expression, equals the Python map (so SQL buckets and Python freshness agree)."""
    import duckdb

    from tidegauge.core.metrics.timeframe import _wall_to_utc

    con = duckdb.connect()
    for transition in (SPRING, FALL):
        m = zone_map(BERLIN, transition - timedelta(hours=6), transition + timedelta(hours=6))
        start = transition.replace(tzinfo=None) - timedelta(hours=2)
        walls = [start + timedelta(minutes=i) for i in range(6 * 60)]
        expr = _wall_to_utc(exp.column("w", quoted=True), m)
        con.execute("CREATE OR REPLACE TABLE t (w TIMESTAMP)")
        con.executemany("INSERT INTO t VALUES (?)", [(w,) for w in walls])
        rows = con.execute(f'SELECT "w", {expr.sql("duckdb")} FROM t ORDER BY 1').fetchall()
        assert [(w, m.to_utc(w)) for w in walls] == [(r[0], r[1]) for r in rows]
    con.close()

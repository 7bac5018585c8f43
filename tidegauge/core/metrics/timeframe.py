"""Time: UTC buckets, window filters and zone conversion of naive timestamps, as sqlglot.

Buckets are UTC hours and UTC days on every engine. A naive timestamp column of a
warehouse with ``timezone:`` set holds wall times of that zone: the bucket expression
converts it with the zone's offsets over the window (``col - INTERVAL n SECOND``, a
``CASE`` of such pieces across a DST transition; see :mod:`tidegauge.core.clock`), and the
window bounds and "now" are turned into wall times instead, so the raw column is compared
(indexes and partition pruning still apply). Columns with a time zone are untouched; DATE
columns are calendar days, bucketed as they are, and compared with the zone's today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlglot import exp

from tidegauge.core.clock import ZoneMap, is_utc, local_date, utc_to_wall, wall_to_utc, zone_map
from tidegauge.core.metrics.capabilities import Capabilities
from tidegauge.core.metrics.expressions import _col
from tidegauge.core.model import ColumnInfo, TypeFamily

__all__ = [
    "BucketSpec",
    "Window",
    "bucket_starts",
    "build_max_query",
    "floor_time",
    "naive_timestamp",
    "to_utc",
    "wall_to_utc",
]


@dataclass(frozen=True, slots=True)
class Window:
    """Half-open data-time window ``[since, until)`` in UTC; ``None`` leaves a side open."""

    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """Group by ``date_trunc(unit, column)``; ``seconds`` is 3600 (hour) or 86400 (day)."""

    column: ColumnInfo
    seconds: int = 3600

    @property
    def unit(self) -> str:
        return "HOUR" if self.seconds == 3600 else "DAY"

    def effective(self) -> BucketSpec:
        """Dates have no hours: an hourly bucket on a DATE column becomes daily."""
        if self.column.family is TypeFamily.DATE and self.seconds != 86400:
            return BucketSpec(self.column, 86400)
        return self


def to_utc(v: Any) -> datetime:
    """A driver's bucket or timestamp value as an aware UTC datetime (naive means UTC).

    >>> to_utc("2024-05-06 07:00:00")
    datetime.datetime(2024, 5, 6, 7, 0, tzinfo=datetime.timezone.utc)
    """
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC)
    raise ValueError(f"not a timestamp: {v!r}")


def floor_time(t: datetime, seconds: int) -> datetime:
    """Start of the bucket that contains ``t`` (UTC)."""
    t = to_utc(t)
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def bucket_starts(since: datetime, until: datetime, seconds: int) -> list[datetime]:
    """Every bucket start in ``[since, until)``, ``since`` floored to the bucket."""
    out: list[datetime] = []
    t = floor_time(since, seconds)
    step = timedelta(seconds=seconds)
    while t < until:
        out.append(t)
        t += step
    return out


def _is_tz(column: ColumnInfo, caps: Capabilities) -> bool:
    if not caps.zoned_types:  # e.g. MariaDB: TIMESTAMP values come back naive, in UTC
        return False
    t = column.data_type.lower().replace(" ", "_")
    if "ntz" in t:  # Snowflake TIMESTAMP_NTZ: no time zone
        return False
    return "with_time_zone" in t or t.endswith("tz") or "_tz" in t or "_ltz" in t


def naive_timestamp(column: ColumnInfo, caps: Capabilities) -> bool:
    """A timestamp column without a zone: its values are wall times of the warehouse zone.

    Where ``caps.naive_type_prefixes`` is set, only those types are naive (MariaDB: its
    ``TIMESTAMP`` is stored in UTC and read in the UTC session zone, so only ``DATETIME``);
    elsewhere ``TIMESTAMP WITH TIME ZONE``, ``TIMESTAMPTZ``, ``TIMESTAMP_LTZ`` and
    ``TIMESTAMP_TZ`` are instants and the rest are naive.

    >>> ts = ColumnInfo("t", "timestamp without time zone", TypeFamily.TIMESTAMP)
    >>> naive_timestamp(ts, Capabilities("generic"))
    True
    >>> naive_timestamp(ColumnInfo("t", "timestamp", TypeFamily.TIMESTAMP),
    ...                 Capabilities("generic", naive_type_prefixes=("datetime",)))
    False
    """
    if column.family is not TypeFamily.TIMESTAMP:
        return False
    if caps.naive_type_prefixes:
        return column.data_type.lower().startswith(caps.naive_type_prefixes)
    return not _is_tz(column, caps)


def _zone_of(column: ColumnInfo, caps: Capabilities) -> str | None:
    """The zone to convert ``column`` from, or ``None`` when its values are UTC already."""
    if is_utc(caps.zone) or not naive_timestamp(column, caps):
        return None
    return caps.zone


def _wall_map(column: ColumnInfo, caps: Capabilities, window: Window | None) -> ZoneMap | None:
    """The wall-clock map for ``column`` over ``window``; ``None`` when no conversion applies."""
    zone = _zone_of(column, caps)
    if zone is None:
        return None
    if window is None or window.since is None or window.until is None:
        raise ValueError(
            f"column {column.name}: bucketing naive timestamps of zone {zone} needs a window "
            "with both ends"
        )
    m = zone_map(zone, to_utc(window.since), to_utc(window.until))
    return None if m.identity else m


def _naive_literal(t: datetime) -> exp.Expr:
    text = t.strftime("%Y-%m-%d %H:%M:%S" + (".%f" if t.microsecond else ""))
    return exp.cast(exp.Literal.string(text), exp.DataType.Type.TIMESTAMP)


def _shift(value: exp.Expr, seconds: int) -> exp.Expr:
    """``value + INTERVAL seconds SECOND`` (a subtraction when negative)."""
    if seconds == 0:
        return value
    interval = exp.Interval(this=exp.Literal.string(str(abs(seconds))), unit=exp.var("SECOND"))
    if seconds > 0:
        return exp.Add(this=value, expression=interval)
    return exp.Sub(this=value, expression=interval)


def _wall_to_utc(col: exp.Expr, m: ZoneMap) -> exp.Expr:
    """``col`` (naive wall time) as naive UTC: ``col - offset``, piece by piece (see
    :mod:`tidegauge.core.clock`); a ``CASE`` only when the span holds a DST transition."""

    def piece(i: int) -> exp.Expr:
        p = m.pieces[i]
        if p.offset is None:
            assert p.instant is not None
            return _naive_literal(p.instant)
        return _shift(col.copy(), -int(p.offset.total_seconds()))

    if len(m.pieces) == 1:
        return piece(0)
    ifs = []
    for i in range(len(m.pieces) - 1):
        start = m.pieces[i + 1].start
        assert start is not None
        ifs.append(
            exp.If(this=exp.LT(this=col.copy(), expression=_naive_literal(start)), true=piece(i))
        )
    return exp.Case(ifs=ifs, default=piece(len(m.pieces) - 1))


def _time_literal(t: datetime, column: ColumnInfo, caps: Capabilities) -> exp.Expr:
    """A literal comparable with ``column`` (DATE, naive TIMESTAMP or TIMESTAMPTZ), in UTC."""
    t = to_utc(t)
    if column.family is TypeFamily.DATE:
        return exp.cast(exp.Literal.string(t.strftime("%Y-%m-%d")), exp.DataType.Type.DATE)
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    if _is_tz(column, caps):
        return exp.cast(exp.Literal.string(text + "+00:00"), exp.DataType.Type.TIMESTAMPTZ)
    return exp.cast(exp.Literal.string(text), exp.DataType.Type.TIMESTAMP)


def _bound_literal(t: datetime, column: ColumnInfo, caps: Capabilities) -> exp.Expr:
    """A window bound for ``column``: a naive column of a zone compares with the first wall
    time at or after ``t``. DATE columns are calendar days (bucket labels): never shifted."""
    zone = _zone_of(column, caps)
    if zone is None:
        return _time_literal(t, column, caps)
    return _naive_literal(utc_to_wall(t, zone))


def _now_literal(now: datetime, column: ColumnInfo, caps: Capabilities) -> exp.Expr:
    """``now`` comparable with ``column``: the wall time of now for a naive column of a
    zone, and the zone's date today for a DATE column."""
    if is_utc(caps.zone):
        return _time_literal(now, column, caps)
    if column.family is TypeFamily.DATE:
        today = local_date(now, caps.zone).isoformat()
        return exp.cast(exp.Literal.string(today), exp.DataType.Type.DATE)
    return _bound_literal(now, column, caps)


def _bucket_expr(spec: BucketSpec, caps: Capabilities, window: Window | None = None) -> exp.Expr:
    col: exp.Expr = _col(spec.column.name)
    if spec.column.family is TypeFamily.DATE and spec.seconds == 86400:
        return col
    if caps.truncate_in_utc and _is_tz(spec.column, caps):
        # Truncate in UTC whatever the session zone: hour/day boundaries must not move.
        col = exp.AtTimeZone(this=col, zone=exp.Literal.string("UTC"))
    m = _wall_map(spec.column, caps, window)
    if m is not None:
        # Buckets are UTC hours and UTC days in every zone, as for TIMESTAMPTZ columns: a
        # local day would be 23 or 25 hours long at DST and off the store's bucket grid.
        col = _wall_to_utc(col, m)
    return exp.TimestampTrunc(this=col, unit=exp.var(spec.unit))


def _window_filter(
    bucket: BucketSpec | None, window: Window | None, caps: Capabilities
) -> exp.Expr | None:
    if bucket is None or window is None:
        return None
    col = _col(bucket.column.name)
    conds: list[exp.Expr] = []
    if window.since is not None:
        conds.append(col.copy() >= _bound_literal(window.since, bucket.column, caps))
    if window.until is not None:
        conds.append(col.copy() < _bound_literal(window.until, bucket.column, caps))
    if not conds:
        return None
    return exp.and_(*conds)


def build_max_query(
    table: exp.Table,
    ts: ColumnInfo | None,
    *,
    count: bool,
    now: datetime | None = None,
    caps: Capabilities | None = None,
) -> exp.Select | None:
    """``SELECT COUNT(*) AS row_count, MAX(ts) AS max_ts`` for what metadata did not give.

    With ``now``, timestamps after it are ignored: a row stamped in the future must not make
    a stale table look fresh (and a replay as of ``now`` must not see later loads). A naive
    ``ts`` holds wall times of ``caps.zone``: it is compared with the wall time of ``now``, and
    the caller converts ``max_ts`` (:func:`tidegauge.core.clock.wall_to_utc`; the map is
    monotonic, so the latest wall time is the latest instant).
    """
    items: list[exp.Expr] = []
    if count:
        items.append(exp.alias_(exp.Count(this=exp.Star()), "row_count"))
    if ts is not None:
        value: exp.Expr = _col(ts.name)
        if now is not None:
            caps = caps or Capabilities("generic")
            value = exp.Case(
                ifs=[
                    exp.If(
                        this=exp.LTE(this=_col(ts.name), expression=_now_literal(now, ts, caps)),
                        true=_col(ts.name),
                    )
                ]
            )
        items.append(exp.alias_(exp.Max(this=value), "max_ts"))
    if not items:
        return None
    return exp.select(*items).from_(table.copy())

"""An injectable "now" (replays, backtests and tests run as if it were another moment), and
the map between a warehouse zone's naive wall-clock timestamps and UTC instants."""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache


class Clock:
    """Returns the current time; ``Clock.fixed(t)`` always returns ``t``.

    >>> Clock.fixed(datetime(2026, 1, 1, tzinfo=UTC)).now().year
    2026
    """

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self._source = source or (lambda: datetime.now(UTC))

    @classmethod
    def fixed(cls, at: datetime) -> Clock:
        at = ensure_utc(at)
        return cls(lambda: at)

    def now(self) -> datetime:
        return ensure_utc(self._source())


def ensure_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO-8601 timestamp (``2026-03-01T06:00``, ``…Z``, ``…+02:00``) in UTC."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        return ensure_utc(datetime.fromisoformat(raw))
    except ValueError:
        raise ValueError(
            f"'{text}' is not an ISO-8601 timestamp (e.g. 2026-03-01T06:00Z)"
        ) from None


def floor_time(value: datetime, seconds: int) -> datetime:
    """Start of the bucket of ``seconds`` length containing ``value`` (UTC epoch aligned)."""
    value = ensure_utc(value)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    n = int((value - epoch).total_seconds()) // seconds
    return epoch + timedelta(seconds=n * seconds)


# --- warehouse zones: naive wall-clock timestamps <-> UTC instants ---------------------------
#
# A warehouse whose naive timestamps are local time (``timezone: Europe/Berlin``) has wall
# clocks that skip an hour in spring and repeat one in autumn. tidegauge maps every wall time
# to one UTC instant with fixed offsets taken from the zone rules (the IANA database that
# Python ships or finds), piece by piece:
#
# * between transitions: ``utc = wall - offset``;
# * a spring-forward gap (wall times that never existed): every such wall time is the
#   transition instant itself;
# * a fall-back overlap (wall times that happened twice, e.g. 02:00-02:59 in Berlin): the
#   rows cannot be told apart, so the first half of the repeated hour takes the earlier
#   (summer) offset and the second half the later one. A steady stream then fills both UTC
#   hours with its usual count, no UTC hour is empty, and every row is counted once.
#
# The map is monotonic (a later wall time never maps to an earlier instant), so a window
# ``since <= utc < until`` is exactly ``to_wall(since) <= wall < to_wall(until)`` on the raw
# column (indexes and partition pruning still apply), and ``MAX(wall)`` maps to the latest
# instant. The same offsets are rendered into the SQL (see ``tidegauge.core.metrics``), so
# the engine's own zone database (MariaDB often has none loaded) is never needed, and every
# engine buckets the repeated hour the same way.

#: UTC offsets differ from UTC by at most 26 hours; transitions are looked for this far
#: around a span so that pieces at its edges are the same as in the neighbouring spans
_MARGIN = timedelta(days=2)
_STEP = 6 * 3600  # seconds between offset probes: zones never change twice within 6 hours
_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    return {n.lower(): n for n in zoneinfo.available_timezones()}


def check_zone(name: str) -> str:
    """The canonical spelling of a zone name; ``ValueError`` saying why it is not one.

    IANA names (any case) and fixed offsets (``+05:30``, ``UTC-08:00``) are accepted.

    >>> check_zone("europe/berlin"), check_zone("+05:30")
    ('Europe/Berlin', '+05:30')
    """
    text = name.strip()
    m = _OFFSET.match(text)
    if m:
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 18 or minutes > 59:
            raise ValueError(f"time zone offset '{name}' is out of range (-18:00 to +18:00)")
        return f"{m.group(1)}{hours:02d}:{minutes:02d}"
    if text and not text.startswith(("/", ".")) and ".." not in text:
        try:
            zoneinfo.ZoneInfo(text)  # the usual case: an exact name, no directory scan
            return text
        except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
            pass
    names = _zone_names()
    canonical = names.get(text.lower())
    if canonical is None:
        close = difflib.get_close_matches(text, list(names.values()), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(
            f"unknown time zone '{name}': use an IANA name such as Europe/Berlin, "
            f"America/New_York or UTC, or an offset such as +05:30{hint}"
        )
    return canonical


@lru_cache(maxsize=64)
def zone_info(name: str) -> tzinfo:
    """The tzinfo of a zone name accepted by :func:`check_zone`."""
    canonical = check_zone(name)
    if canonical[0] in "+-":
        sign = -1 if canonical[0] == "-" else 1
        hours, minutes = int(canonical[1:3]), int(canonical[4:6])
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    if canonical == "UTC":
        return UTC
    return zoneinfo.ZoneInfo(canonical)


def is_utc(name: str) -> bool:
    """True when ``name`` is UTC or a zone that has always had offset zero."""
    zone = zone_info(name)
    return zone is UTC or (isinstance(zone, timezone) and zone.utcoffset(None) == timedelta(0))


@dataclass(frozen=True, slots=True)
class Piece:
    """Wall times from ``start`` (naive; ``None``: from the beginning) up to the next piece
    map to ``wall - offset``, or all to ``instant`` (naive UTC) inside a DST gap."""

    start: datetime | None
    offset: timedelta | None = None
    instant: datetime | None = None

    def apply(self, wall: datetime) -> datetime:
        if self.offset is None:
            assert self.instant is not None
            return self.instant
        return wall - self.offset


@dataclass(frozen=True, slots=True)
class ZoneMap:
    """The wall-clock ↔ UTC map of a zone around a span of time (naive datetimes both ways).

    >>> m = zone_map("Europe/Berlin", datetime(2026, 10, 24, tzinfo=UTC),
    ...              datetime(2026, 10, 26, tzinfo=UTC))
    >>> [m.to_utc(datetime(2026, 10, 25, h, 15)).strftime("%H:%M") for h in (1, 2, 3)]
    ['23:15', '00:15', '02:15']
    >>> m.to_utc(datetime(2026, 10, 25, 2, 45)).strftime("%H:%M")  # the repeated hour
    '01:45'
    """

    zone: str
    pieces: tuple[Piece, ...]

    @property
    def identity(self) -> bool:
        """Wall time is UTC throughout the span: no conversion needed."""
        return len(self.pieces) == 1 and self.pieces[0].offset == timedelta(0)

    def _index(self, wall: datetime) -> int:
        i = 0
        for j, p in enumerate(self.pieces):
            if p.start is not None and p.start <= wall:
                i = j
        return i

    def to_utc(self, wall: datetime) -> datetime:
        """The UTC instant (naive) of a naive wall time."""
        return self.pieces[self._index(wall.replace(tzinfo=None))].apply(wall.replace(tzinfo=None))

    def to_wall(self, instant: datetime) -> datetime:
        """The first wall time whose instant is at or after ``instant``: for any wall time
        ``w``, ``to_utc(w) >= instant`` exactly when ``w >= to_wall(instant)``."""
        u = ensure_utc(instant).replace(tzinfo=None)
        for i, p in enumerate(self.pieces):
            end = self.pieces[i + 1].start if i + 1 < len(self.pieces) else None
            if p.offset is None:
                assert p.instant is not None and p.start is not None
                if u <= p.instant:
                    return p.start
                continue
            if p.start is not None and u <= p.start - p.offset:
                return p.start
            if end is None or u < end - p.offset:
                return u + p.offset
        raise AssertionError("the last piece is open-ended")


def _offset_at(zone: tzinfo, epoch: int) -> timedelta:
    return datetime.fromtimestamp(epoch, zone).utcoffset() or timedelta(0)


def transitions(
    name: str, since: datetime, until: datetime
) -> list[tuple[datetime, timedelta, timedelta]]:
    """``(instant, offset before, offset after)`` of each offset change in ``(since, until]``."""
    zone = zone_info(name)
    if isinstance(zone, timezone):
        return []
    lo, hi = int(ensure_utc(since).timestamp()), int(ensure_utc(until).timestamp())
    out = []
    at, before = lo, _offset_at(zone, lo)
    while at < hi:
        nxt = min(at + _STEP, hi)
        after = _offset_at(zone, nxt)
        if after != before:
            a, b = at, nxt  # offset(a) == before, offset(b) == after: bisect to the second
            while b - a > 1:
                mid = (a + b) // 2
                if _offset_at(zone, mid) == before:
                    a = mid
                else:
                    b = mid
            out.append((datetime.fromtimestamp(b, UTC), before, after))
        at, before = nxt, after
    return out


@lru_cache(maxsize=256)
def zone_map(name: str, since: datetime, until: datetime) -> ZoneMap:
    """The map of ``name`` valid for instants in ``[since, until)`` (and a margin around)."""
    zone = zone_info(name)
    try:
        lo, hi = ensure_utc(since) - _MARGIN, ensure_utc(until) + _MARGIN
    except OverflowError:
        lo, hi = ensure_utc(since), ensure_utc(until)
    first = (
        _offset_at(zone, int(lo.timestamp()))
        if not isinstance(zone, timezone)
        else (zone.utcoffset(None))
    )
    pieces = [Piece(None, first)]
    for instant, before, after in transitions(name, lo, hi):
        t = instant.replace(tzinfo=None)
        if after > before:  # spring forward: wall times [t+before, t+after) never existed
            new = [Piece(t + before, instant=t), Piece(t + after, after)]
        elif after < before:  # fall back: [t+after, t+before) happened twice
            half = timedelta(seconds=(before - after).total_seconds() // 2)
            new = [Piece(t + after + half, after)]
        else:
            continue
        for p in new:
            last = pieces[-1].start
            if last is None or p.start is None or p.start > last:
                pieces.append(p)
    return ZoneMap(name, tuple(pieces))


def _day(value: datetime) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def wall_to_utc(wall: datetime, zone: str) -> datetime:
    """A naive wall time of ``zone`` as an aware UTC instant (aware input is only converted).

    >>> wall_to_utc(datetime(2026, 3, 29, 7, 59), "Europe/Berlin").isoformat()
    '2026-03-29T05:59:00+00:00'
    """
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    day = _day(wall)
    try:
        m = zone_map(zone, day, day + timedelta(days=1))
        return m.to_utc(wall).replace(tzinfo=UTC)
    except OverflowError:  # year 1 or 9999: no offset can be applied
        return wall.replace(tzinfo=UTC)


def utc_to_wall(instant: datetime, zone: str) -> datetime:
    """The first naive wall time of ``zone`` at or after ``instant`` (see ``ZoneMap.to_wall``).

    >>> utc_to_wall(datetime(2026, 1, 1, 12, tzinfo=UTC), "Asia/Kolkata").isoformat()
    '2026-01-01T17:30:00'
    """
    day = _day(ensure_utc(instant))
    try:
        return zone_map(zone, day, day + timedelta(days=1)).to_wall(instant)
    except OverflowError:
        return ensure_utc(instant).replace(tzinfo=None)


def local_date(instant: datetime, zone: str) -> date:
    """The calendar date in ``zone`` at ``instant``."""
    return ensure_utc(instant).astimezone(zone_info(zone)).date()

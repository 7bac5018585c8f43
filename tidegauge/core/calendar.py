"""Special days — public holidays, company shutdowns — as plain dates a detector can use.

Row counts on Christmas Day are low and nothing is broken; no model of weekdays and trend
can know that without a calendar. :class:`SpecialDays` is what the metric detector receives:
a set of local calendar dates, the time zone those dates are in, and how special days may
behave without alerting. Building it is separate (:func:`special_days`): a country's public
holidays come from the ``holidays`` package (pure data, imported only when a country is
configured), explicit dates and ranges from the project file.

A bucket belongs to the local date its *middle* falls on, in the calendar's time zone: an
hourly bucket to the day of its hour, a daily bucket cut at UTC midnight to the date it mostly
covers, even for a calendar a few hours east or west of UTC.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidegauge.core.direction import Direction

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: a special day may go this low (a share of a normal day's expected value) before it alerts
DEFAULT_FLOOR = 0.1
#: the longest explicit range of special days accepted (a year of shutdown is not a calendar)
MAX_RANGE_DAYS = 366


@dataclass(frozen=True, slots=True)
class SpecialDays:
    """Dates on which a metric is allowed to behave unlike a normal day.

    Attributes:
        dates: the special local dates.
        label: what the user configured, for explanations (``US-CA``, ``US + 3 dates``).
        timezone: IANA zone the dates are local to.
        expect: which way special days may move without alerting (``down``: quieter).
        floor: a special day alerts anyway when clearly below this share of the normal
            expected value (``up``: above its inverse), whatever the calendar says.

    >>> cal = SpecialDays(frozenset({date(2024, 12, 25)}), "US")
    >>> cal.mask([datetime(2024, 12, 24, 23), datetime(2024, 12, 25, 1)], 3600).tolist()
    [False, True]
    """

    dates: frozenset[date] = field(default_factory=frozenset)
    label: str = "custom"
    timezone: str = "UTC"
    expect: Direction = Direction.DOWN
    floor: float = DEFAULT_FLOOR

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor < 1.0:
            raise ValueError("floor is a share of the normal level in [0, 1)")
        zone(self.timezone)  # fail early on a bad zone

    def local_dates(self, stamps: Sequence[datetime], bucket_seconds: float) -> list[date]:
        """The local date of each bucket (naive timestamps are UTC), by its middle."""
        half = timedelta(seconds=bucket_seconds / 2.0)
        tz = zone(self.timezone)
        utc = self.timezone.upper() == "UTC"
        out: list[date] = []
        for ts in stamps:
            mid = ts + half
            if utc and mid.tzinfo is None:
                out.append(mid.date())
                continue
            aware = mid if mid.tzinfo is not None else mid.replace(tzinfo=UTC)
            out.append(aware.astimezone(tz).date())
        return out

    def mask(self, stamps: Sequence[datetime], bucket_seconds: float) -> npt.NDArray[np.bool_]:
        """Which buckets fall on a special day."""
        import numpy as np  # here: loading a configuration's calendar needs no numpy

        if not self.dates:
            return np.zeros(len(stamps), dtype=bool)
        return np.array(
            [d in self.dates for d in self.local_dates(stamps, bucket_seconds)], dtype=bool
        )

    def allows(self, diff: float) -> bool:
        """Whether a deviation of this sign is one special days are expected to make."""
        if self.expect is Direction.BOTH:
            return diff != 0
        return diff < 0 if self.expect is Direction.DOWN else diff > 0


@lru_cache(maxsize=64)
def zone(name: str) -> Any:
    """The time zone called ``name``; ``ValueError`` naming it when there is none."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone '{name}' (use an IANA name such as 'America/New_York' or 'UTC')"
        ) from None


def _holidays_module() -> Any:
    try:
        import holidays
    except ImportError:  # pragma: no cover - the package is in the default extras
        raise ValueError(
            "a country calendar needs the 'holidays' package: pip install 'tidegauge[calendar]'"
        ) from None
    return holidays


@lru_cache(maxsize=1)
def _supported() -> dict[str, list[str]]:
    """Country code → subdivision codes the ``holidays`` package knows."""
    return {
        str(k): [str(s) for s in v]
        for k, v in _holidays_module().list_supported_countries().items()
    }


def check_country(country: str, subdivision: str | None = None) -> str:
    """The country code, upper-cased, if the ``holidays`` package knows it (and the subdivision).

    Raises ``ValueError`` with the closest valid code otherwise.
    """
    code = country.strip().upper()
    supported = _supported()
    if code not in supported:
        close = difflib.get_close_matches(code, list(supported), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else " (use an ISO 3166 code, e.g. US)"
        raise ValueError(f"unknown country '{country}'{hint}")
    if subdivision is not None:
        subs = supported[code]
        if subdivision.upper() not in {s.upper() for s in subs}:
            shown = ", ".join(subs[:12]) + (", …" if len(subs) > 12 else "")
            raise ValueError(
                f"country {code} has no subdivision '{subdivision}'"
                + (f" (known: {shown})" if subs else " (it has none)")
            )
    return code


@lru_cache(maxsize=32)
def country_dates(country: str, subdivision: str | None, years: tuple[int, ...]) -> frozenset[date]:
    """Public holidays (observed days included) of a country in the given years."""
    code = check_country(country, subdivision)
    subdiv = None
    if subdivision is not None:
        subdiv = next(s for s in _supported()[code] if s.upper() == subdivision.upper())
    days = _holidays_module().country_holidays(code, subdiv=subdiv, years=list(years))
    return frozenset(days.keys())


def expand_ranges(ranges: Iterable[tuple[date, date]]) -> set[date]:
    """Every date of each inclusive ``(start, end)`` range."""
    out: set[date] = set()
    for start, end in ranges:
        if end < start:
            raise ValueError(f"range ends ({end}) before it starts ({start})")
        n = (end - start).days + 1
        if n > MAX_RANGE_DAYS:
            raise ValueError(f"range {start}..{end} covers {n} days (at most {MAX_RANGE_DAYS})")
        out.update(start + timedelta(days=k) for k in range(n))
    return out


def calendar_label(country: str | None, subdivision: str | None, n_own: int) -> str:
    """``US``, ``US-CA``, ``US + 2 dates`` or ``3 dates``: how explanations name a calendar."""
    base = ""
    if country:
        base = country.upper() + (f"-{subdivision.upper()}" if subdivision else "")
    own = f"{n_own} date{'s' if n_own != 1 else ''}" if n_own else ""
    if base and own:
        return f"{base} + {own}"
    return base or own or "empty"


def special_days(
    *,
    years: Iterable[int],
    country: str | None = None,
    subdivision: str | None = None,
    dates: Iterable[date] = (),
    ranges: Iterable[tuple[date, date]] = (),
    timezone: str = "UTC",
    expect: Direction | str = Direction.DOWN,
    floor: float = DEFAULT_FLOOR,
) -> SpecialDays:
    """A calendar of plain dates: a country's holidays in ``years`` plus one's own days.

    >>> cal = special_days(years=[2026], dates=[date(2026, 8, 3)],
    ...                    ranges=[(date(2026, 12, 24), date(2026, 12, 26))])
    >>> sorted(cal.dates)[-1], cal.label
    (datetime.date(2026, 12, 26), '4 dates')
    """
    own = set(dates) | expand_ranges(ranges)
    found: set[date] = set(own)
    if country:
        found |= country_dates(country, subdivision, tuple(sorted(set(years))))
    return SpecialDays(
        dates=frozenset(found),
        label=calendar_label(country, subdivision, len(own)),
        timezone=timezone,
        expect=Direction(expect),
        floor=floor,
    )

"""When a monitor is due: an interval (``30m``, ``6h``, ``1d``) or a five-field cron.

Pure: the caller passes the last time the table was checked and the run's ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: a gap longer than this is due whatever the schedule says
_HORIZON = timedelta(days=31)


class ScheduleError(ValueError):
    """A schedule this module cannot read."""


def _field(text: str, lo: int, hi: int) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(part)
        if start < lo or end > hi or step < 1:
            raise ScheduleError(f"cron field '{text}' is outside {lo}-{hi}")
        out.update(range(start, end + 1, step))
    return out


def parse_cron(expr: str) -> tuple[set[int], ...]:
    """Minute, hour, day of month, month, day of week (0 and 7 are Sunday).

    >>> sorted(parse_cron("*/20 6 * * 1-5")[0])
    [0, 20, 40]
    """
    fields = _ALIASES.get(expr, expr).split()
    if len(fields) != 5:
        raise ScheduleError(f"'{expr}' is not a five-field cron expression")
    try:
        sets = tuple(_field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True))
    except ValueError as e:
        raise ScheduleError(f"'{expr}': {e}") from None
    if 7 in sets[4]:
        sets[4].add(0)
    return sets


def _interval(text: str) -> timedelta | None:
    t = text.strip().lower()
    if t and t[-1] in _UNITS:
        try:
            return timedelta(seconds=float(t[:-1]) * _UNITS[t[-1]])
        except ValueError:
            return None
    return None


def is_due(schedule: str, last: datetime | None, now: datetime) -> bool:
    """Whether a check last done at ``last`` is due again at ``now``.

    >>> from datetime import UTC
    >>> t = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
    >>> is_due("6h", t - timedelta(hours=2), t), is_due("0 6 * * *", t - timedelta(hours=1), t)
    (False, True)
    """
    if last is None or now - last > _HORIZON:
        return True
    interval = _interval(schedule)
    if interval is not None:
        return now - last >= interval
    minute, hour, dom, month, dow = parse_cron(schedule)
    # cron's rule: when both day fields are restricted, either may match
    either = dom != set(range(1, 32)) and not set(range(7)) <= dow
    t = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t <= now:
        day_dom, day_dow = t.day in dom, (t.weekday() + 1) % 7 in dow
        day_ok = (day_dom or day_dow) if either else (day_dom and day_dow)
        if t.minute in minute and t.hour in hour and t.month in month and day_ok:
            return True
        t += timedelta(minutes=1)
    return False

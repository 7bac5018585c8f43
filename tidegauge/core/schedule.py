"""When a monitor is due: an interval (``30m``, ``6h``, ``1d``) or a five-field cron.

The one reader of schedules: the project file's validation (:func:`check_schedule`) and the
run (:func:`is_due`) call the same code, so a schedule ``validate`` accepts never fails a run.
Cron expressions are read by cronsim (a maintained, dependency-free parser) rather than by
hand: it knows month lengths, names (``MON-FRI``) and ``L``/``#``, and rejects dates that
never come (``0 0 31 2 *``), which a hand-written loop would search for in vain.

Pure: the caller passes the last time the table was checked and the run's ``now``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cronsim import CronSim, CronSimError

from tidegauge.core.units import DURATION_HINT, parse_duration

__all__ = ["ScheduleError", "check_schedule", "is_due", "next_after"]

_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
#: a gap longer than this is due whatever the schedule says
_HORIZON = timedelta(days=31)


class ScheduleError(ValueError):
    """A schedule this module cannot read."""


def _interval(text: str) -> timedelta | None:
    try:
        interval = parse_duration(text)
    except ValueError:
        return None
    return interval


def _cron(text: str) -> str:
    expr = _ALIASES.get(text.lower(), text)
    fields = expr.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"'{text}' is not a duration ({DURATION_HINT}) nor a five-field cron expression "
            f"({', '.join(_FIELDS)}): it has {len(fields)} field(s)"
        )
    try:
        CronSim(expr, datetime(2000, 1, 1))
    except CronSimError as e:
        raise ScheduleError(f"'{text}' is not a valid cron expression: {e}") from None
    return expr


def check_schedule(value: str) -> str:
    """The schedule, normalised, or a :class:`ScheduleError` naming what is wrong.

    >>> check_schedule("0 6 * * 1-5"), check_schedule("6h"), check_schedule("@daily")
    ('0 6 * * 1-5', '6h', '@daily')
    >>> check_schedule("0 25 * * *")
    Traceback (most recent call last):
    ...
    tidegauge.core.schedule.ScheduleError: '0 25 * * *' is not a valid cron expression: Bad hour
    """
    text = " ".join(str(value).split())
    interval = _interval(text)
    if interval is not None:
        if interval <= timedelta(0):
            raise ScheduleError(f"'{text}': an interval must be longer than zero")
        return text
    _cron(text)
    return text


def next_after(schedule: str, last: datetime) -> datetime:
    """The first time after ``last`` at which ``schedule`` is due.

    >>> from datetime import UTC
    >>> next_after("0 6 * * *", datetime(2026, 3, 2, 6, 30, tzinfo=UTC)).isoformat()
    '2026-03-03T06:00:00+00:00'
    """
    interval = _interval(schedule)
    if interval is not None:
        return last + interval
    return next(CronSim(_cron(schedule), last.replace(second=0, microsecond=0)))


def is_due(schedule: str, last: datetime | None, now: datetime) -> bool:
    """Whether a check last done at ``last`` is due again at ``now``.

    >>> from datetime import UTC
    >>> t = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
    >>> is_due("6h", t - timedelta(hours=2), t), is_due("0 6 * * *", t - timedelta(hours=1), t)
    (False, True)
    """
    if last is None or now - last > _HORIZON:
        return True
    return next_after(schedule, last) <= now

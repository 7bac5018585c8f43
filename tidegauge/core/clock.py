"""An injectable "now": replays, backtests and tests run as if it were another moment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


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

"""Circuit breakers: whether a pipeline may use a table, judged from its open alerts, the
severity its declared monitors give them, and the freshness of its data."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidegauge.monitors import _MonitorBase
    from tidegauge.store.store import Store

log = logging.getLogger("tidegauge.sdk")


# --------------------------------------------------------------------------- breakers


class BreakerLevel(StrEnum):
    """``warn`` trips on medium+ open alerts, ``block`` on high+."""

    WARN = "warn"
    BLOCK = "block"

    @property
    def min_severity(self) -> str:
        return "medium" if self is BreakerLevel.WARN else "high"


_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass
class BreakerCheck:
    """The verdict on one table: ``ok`` is None when tidegauge could not answer."""

    table: str
    ok: bool | None
    reasons: list[str] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    age_seconds: float | None = None
    error: str | None = None


@dataclass
class BreakerResult:
    """Every table's verdict; ``tripped`` says whether the pipeline must stop."""

    level: BreakerLevel
    max_age: timedelta | None
    fail_open: bool
    checks: list[BreakerCheck]
    at: datetime

    @property
    def unanswered(self) -> list[BreakerCheck]:
        return [c for c in self.checks if c.ok is None]

    @property
    def tripped(self) -> bool:
        if any(c.ok is False for c in self.checks):
            return True
        return bool(self.unanswered) and not self.fail_open

    def summary(self) -> str:
        lines = []
        for c in self.checks:
            state = {True: "ok", False: "TRIPPED", None: "UNKNOWN"}[c.ok]
            detail = "; ".join(c.reasons) or (c.error or "")
            lines.append(f"{c.table}: {state}" + (f" — {detail}" if detail else ""))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tripped": self.tripped,
            "level": self.level.value,
            "min_severity": self.level.min_severity,
            "max_age_seconds": self.max_age.total_seconds() if self.max_age else None,
            "fail_open": self.fail_open,
            "at": self.at.isoformat(),
            "tables": [
                {**asdict(c), "alerts": [_alert_brief(a) for a in c.alerts]} for c in self.checks
            ],
        }


class BreakerTripped(RuntimeError):
    """Raised by :meth:`Tidegauge.breaker` when the pipeline must stop; ``.result`` says why."""

    def __init__(self, result: BreakerResult) -> None:
        super().__init__(result.summary())
        self.result = result


def _alert_brief(a: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "kind",
        "metric",
        "column",
        "severity",
        "declared_severity",
        "monitor",
        "title",
        "incident_id",
        "data_time",
    )
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in a.items() if k in keys}


def open_alerts(store: Store, table_id: int) -> list[dict[str, Any]]:
    """Alerts of a table in an open incident and not marked expected / false positive."""
    return store.alerts.in_open_incidents(table_id)


def check_breaker(
    store: Store | None,
    tables: Sequence[str],
    *,
    level: BreakerLevel | str = BreakerLevel.BLOCK,
    max_age: timedelta | str | None = None,
    fail_open: bool | None = None,
    now: datetime | None = None,
    monitors: Sequence[_MonitorBase] = (),
    store_error: str | None = None,
) -> BreakerResult:
    """Judge ``tables``; never raises for tidegauge's own failures (see ``fail_open``).

    Args:
        store: the open store, or None when it could not be opened (``store_error`` says why).
        tables: ``schema.table`` (or ``warehouse:schema.table``) names.
        level: ``warn`` (medium+ alerts trip) or ``block`` (high+).
        max_age: trip when the newest data is older than this (``6h``, ``2d``...).
        fail_open: when a table cannot be judged, pass (True) or trip (False); default
            fail-closed for ``block`` and fail-open for ``warn``.
        now: the moment of the check (default: now).
        monitors: declared monitors; their ``severity`` replaces the detector's.
    """
    from tidegauge.config import parse_duration
    from tidegauge.monitors import monitor_for_alert

    lvl = BreakerLevel(level)
    age_limit = parse_duration(max_age) if isinstance(max_age, str) else max_age
    opened = lvl is BreakerLevel.WARN if fail_open is None else fail_open
    at = now or datetime.now(UTC)
    checks: list[BreakerCheck] = []
    for name in tables:
        if store is None:
            checks.append(BreakerCheck(name, None, error=store_error or "store unavailable"))
            continue
        try:
            checks.append(_check_one(store, name, lvl, age_limit, at, monitors, monitor_for_alert))
        except Exception as e:  # the store failing mid-check is "cannot answer", not a crash
            log.warning("breaker could not judge %s: %s", name, e)
            checks.append(BreakerCheck(name, None, error=f"{type(e).__name__}: {e}"))
    return BreakerResult(lvl, age_limit, opened, checks, at)


def _check_one(
    store: Store,
    name: str,
    lvl: BreakerLevel,
    age_limit: timedelta | None,
    at: datetime,
    monitors: Sequence[_MonitorBase],
    owner_of: Any,
) -> BreakerCheck:
    t = store.find_table(name)
    if t is None:
        return BreakerCheck(
            name,
            None,
            error=f"table {name} is not known to tidegauge "
            "(misspelt, ambiguous, or not collected yet)",
        )
    check = BreakerCheck(t.ref.fqn, True)
    floor = _RANK[lvl.min_severity]
    for a in open_alerts(store, t.id):
        m = owner_of(monitors, t.ref.fqn, a["kind"], a["metric"])
        sev = m.severity if m is not None else a["severity"]
        if _RANK.get(sev, 0) < floor:
            continue
        a["declared_severity"] = sev
        a["monitor"] = m.name if m is not None else None
        check.alerts.append(a)
    if check.alerts:
        check.ok = False
        first = check.alerts[0]
        check.reasons.append(
            f"{len(check.alerts)} open alert(s) at {lvl.min_severity} or above, e.g. "
            f"{first['title']} ({first['declared_severity']})"
        )
    if age_limit is not None:
        from tidegauge.store.activity import latest_data_time

        last = latest_data_time(store, t.id)
        if last is None:
            check.reasons.append("no freshness data stored")
            if check.ok:
                check.ok = None
                check.error = "no freshness data stored for this table"
        else:
            check.age_seconds = (at - last).total_seconds()
            if at - last > age_limit:
                check.ok = False
                check.reasons.append(
                    f"data is {check.age_seconds / 3600:.1f} h old (newest "
                    f"{last:%Y-%m-%d %H:%M} UTC), over the "
                    f"{age_limit.total_seconds() / 3600:.1f} h allowed"
                )
    return check

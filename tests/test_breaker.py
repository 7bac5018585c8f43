"""Circuit breakers: trip on learned (volume) anomalies as well as rules, on stale data, and
fail open or closed when tidegauge cannot answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.monitorkit import END, write_project
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.core.model import Feedback, IncidentStatus
from tidegauge.runner import run
from tidegauge.sdk import BreakerTripped, Tidegauge, check_breaker
from tidegauge.store.store import Store

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, volume_drop: bool = False) -> Tidegauge:
    project = load_project(write_project(tmp_path, rules=False, volume_drop=volume_drop))
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(END), notify=False)
    return Tidegauge(project, store=store)


def test_a_learned_volume_anomaly_trips_the_breaker(tmp_path: Path) -> None:
    tg = _run(tmp_path, volume_drop=True)
    alerts = tg.alerts(table="raw.orders", open_only=True)
    assert alerts and {a["kind"] for a in alerts} == {"volume"}  # no rule involved
    with pytest.raises(BreakerTripped) as e:
        tg.breaker(["raw.orders"], level="block", now=END)
    check = e.value.result.checks[0]
    assert check.ok is False and check.alerts[0]["kind"] == "volume"
    # the declared volume monitor's severity (high) counts, whatever the detector said
    assert check.alerts[0]["declared_severity"] == "high"
    assert check.alerts[0]["monitor"] == "orders_volume"

    # feedback "expected" closes the breaker; so does resolving the incident
    for a in alerts:
        tg.store.alerts.set_feedback(a["id"], Feedback.EXPECTED, END)
    assert not tg.breaker(["raw.orders"], now=END).tripped
    tg.close()


def test_resolved_incidents_do_not_trip(tmp_path: Path) -> None:
    tg = _run(tmp_path, volume_drop=True)
    for inc in tg.incidents(status="open"):
        tg.store.incidents.set_status(inc["id"], IncidentStatus.FIXED, END)
    assert not tg.breaker(["raw.orders"], level="warn", now=END).tripped
    tg.close()


def test_stale_data_trips_with_max_age(tmp_path: Path) -> None:
    tg = _run(tmp_path)
    later = END + timedelta(hours=8)
    assert not tg.breaker(["raw.orders"], max_age="12h", now=later).tripped
    with pytest.raises(BreakerTripped, match="h old"):
        tg.breaker(["raw.orders"], max_age="6h", now=later)
    tg.close()


def test_fail_open_and_fail_closed(tmp_path: Path) -> None:
    tg = _run(tmp_path)
    # unknown table: block fails closed by default, warn fails open
    with pytest.raises(BreakerTripped, match="not known"):
        tg.breaker(["raw.nowhere"], now=END)
    assert not tg.breaker(["raw.nowhere"], level="warn", now=END).tripped
    assert not tg.breaker(["raw.nowhere"], fail_open=True, now=END).tripped
    with pytest.raises(BreakerTripped):
        tg.breaker(["raw.nowhere"], level="warn", fail_open=False, now=END)
    tg.close()
    # unreachable store
    result = check_breaker(None, ["raw.orders"], store_error="connection refused")
    assert result.tripped and result.checks[0].ok is None
    assert not check_breaker(None, ["raw.orders"], fail_open=True).tripped
    broken = Tidegauge(load_project(tmp_path / "tidegauge.yml"))
    broken.project.store.url = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    with pytest.raises(BreakerTripped, match="store unavailable"):
        broken.breaker(["raw.orders"])
    assert not broken.breaker(["raw.orders"], fail_open=True).tripped

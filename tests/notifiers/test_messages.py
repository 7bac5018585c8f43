from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidegauge.core.model import AlertKind, Impact, Incident, IncidentStatus, Severity, TableRef
from tidegauge.notifiers.messages import (
    BulletList,
    Fields,
    Heading,
    Link,
    Message,
    Text,
    build_digest,
    build_message,
    format_number,
    format_time,
)

URL = "https://tidegauge.example/incidents/42"


def _fields(msg: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for block in msg.blocks:
        if isinstance(block, Fields):
            out.update(dict(block.items))
    return out


def _lists(msg: Message) -> dict[str, BulletList]:
    return {b.title: b for b in msg.blocks if isinstance(b, BulletList)}


def test_message_says_what_since_when_expected_impact_cause_and_link(
    make_incident: Callable[..., Incident],
) -> None:
    msg = build_message(make_incident(), url=URL, action="trigger")
    assert msg.title == "[HIGH] New value 'refunded_partial' in raw.orders.status"
    assert msg.severity is Severity.HIGH and msg.action == "trigger"
    assert isinstance(msg.blocks[0], Heading) and msg.blocks[0].text == msg.title
    assert isinstance(msg.blocks[1], Text) and "15% of rows" in msg.blocks[1].text
    facts = _fields(msg)
    assert facts["Table"] == "raw.orders.status"
    assert facts["Since"] == "2024-05-01 06:00 UTC"
    assert facts["Detected"] == "2024-05-01 07:05 UTC"
    assert facts["Owner"] == "team-payments"
    # a share of rows reads as a percentage, not as 0.15
    assert facts["Observed"] == "15%" and facts["Expected"] == "0%"
    assert facts["Expected band"] == "0% – 0.1%"
    lists = _lists(msg)
    assert lists["Downstream tables"].items == (
        "stg.orders",
        "marts.fct_orders",
        "marts.fct_revenue",
    )
    assert lists["Exposures"].items == ("Revenue dashboard", "Finance weekly")
    assert lists["Owners hit"].items == ("team-payments", "team-finance")
    causes = lists[""].items
    assert causes[0] == "Upstream schema change: raw.orders.status type changed"
    assert "value=refunded_partial" in causes[1]
    links = [b for b in msg.blocks if isinstance(b, Link)]
    assert [link.url for link in links] == [URL]
    assert msg.details["incident_id"] == 42
    assert msg.details["impact"]["exposures"] == ["Revenue dashboard", "Finance weekly"]
    assert msg.component == "raw.orders" and msg.source == "main" and msg.group == "raw"


def test_change_percentage_when_expected_is_nonzero(
    make_incident: Callable[..., Incident],
) -> None:
    msg = build_message(
        make_incident(
            kind=AlertKind.VOLUME, observed=600.0, expected=1000.0, lower=900.0, upper=1100.0
        ),
        url=URL,
    )
    facts = _fields(msg)
    assert facts["Change"] == "-40.0%"
    assert facts["Expected band"] == "900 – 1,100"


def test_resolve_message(make_incident: Callable[..., Incident]) -> None:
    msg = build_message(make_incident(status=IncidentStatus.FIXED), url=URL, action="resolve")
    assert msg.title.startswith("[RESOLVED] ")
    assert msg.summary.startswith("Resolved as fixed.")
    assert msg.action == "resolve"
    with pytest.raises(ValueError, match="action"):
        build_message(make_incident(), url=URL, action="ack")  # type: ignore[arg-type]


def test_minimal_incident_has_no_empty_sections() -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    inc = Incident(AlertKind.FRESHNESS, TableRef("wh", "s", "t"), "", when, when)
    msg = build_message(inc, url=URL)
    assert msg.title == "[MEDIUM] Freshness anomaly on s.t"
    assert "Observed" not in _fields(msg)
    assert any(isinstance(b, Text) and "No known downstream" in b.text for b in msg.blocks)
    assert _fields(msg)["Owner"] == "unassigned"


def test_long_impact_lists_are_capped(make_incident: Callable[..., Incident]) -> None:
    tables = tuple(f"marts.t{i}" for i in range(250))
    msg = build_message(make_incident(impact=Impact(tables=tables)), url=URL)
    lst = _lists(msg)["Downstream tables"]
    assert len(lst.items) == 10 and lst.more == 240
    assert "250 downstream table(s)" in msg.plain_text()
    assert "... and 240 more" in msg.plain_text()


def test_nan_and_infinite_values_do_not_break_json(make_incident: Callable[..., Incident]) -> None:
    msg = build_message(make_incident(observed=math.nan, expected=math.inf), url=URL)
    assert _fields(msg)["Observed"] == "NaN" and _fields(msg)["Expected"] == "∞"
    json.dumps(msg.to_dict(), allow_nan=False)


def test_round_trip_through_json(make_incident: Callable[..., Incident]) -> None:
    msg = build_message(make_incident(), url=URL)
    again = Message.from_dict(json.loads(json.dumps(msg.to_dict())))
    assert again == msg


@settings(max_examples=50, deadline=None)
@given(
    title=st.text(max_size=80),
    column=st.one_of(st.none(), st.text(min_size=1, max_size=20)),
    owners=st.lists(st.text(max_size=15), max_size=15),
    observed=st.one_of(st.none(), st.floats(allow_nan=True)),
    severity=st.sampled_from(list(Severity)),
)
def test_any_incident_round_trips(
    title: str, column: str | None, owners: list[str], observed: float | None, severity: Severity
) -> None:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    inc = Incident(
        AlertKind.VOLUME,
        TableRef("wh", "s", "t"),
        title,
        when,
        when,
        severity=severity,
        column=column,
        impact=Impact(owners=tuple(owners)),
        observed=observed,
    )
    msg = build_message(inc, url=URL)
    payload = json.dumps(msg.to_dict(), allow_nan=False)
    assert Message.from_dict(json.loads(payload)) == msg


def test_format_helpers() -> None:
    assert format_number(1234567.0) == "1,234,567"
    assert format_number(0.015342) == "0.0153"
    assert format_number(2.7456e-05) == "0.0000275"  # never scientific notation
    assert format_number(12345.678) == "12,346"
    assert format_number(None) == "n/a"
    assert format_time(datetime(2024, 1, 1, 12, 30)) == "2024-01-01 12:30 UTC"
    plus2 = datetime(2024, 1, 1, 14, 30, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Berlin")
    )
    assert format_time(plus2) == "2024-01-01 14:30 UTC"


def test_digest_lists_incidents_most_severe_first(make_incident: Callable[..., Incident]) -> None:
    base = datetime(2024, 5, 1, 7, tzinfo=UTC)
    incidents = [
        make_incident(
            id=i, severity=sev, detected_at=base + timedelta(minutes=i), title=f"problem {i}"
        )
        for i, sev in enumerate([Severity.LOW, Severity.CRITICAL, Severity.MEDIUM] * 10)
    ]
    msg = build_digest(incidents, "https://tidegauge.example/incidents/")
    assert msg.severity is Severity.CRITICAL
    assert msg.title.startswith("[CRITICAL] 30 more incident(s)")
    assert "10 critical, 10 medium, 10 low" in msg.summary
    lst = _lists(msg)["Incidents"]
    assert lst.items[0].startswith("#1 [critical]")
    assert len(lst.items) == 20 and lst.more == 10
    assert msg.details["incident_urls"][0] == "https://tidegauge.example/incidents/1"
    assert msg.url == "https://tidegauge.example/incidents"
    with pytest.raises(ValueError):
        build_digest([], "https://x")

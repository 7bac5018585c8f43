from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tidegauge.core.model import AlertKind, Incident, Severity, TableRef
from tidegauge.notifiers.config import ChannelBase, RouteConfig, SlackChannel, WebhookChannel
from tidegauge.notifiers.routing import Disposition, route, should_renotify

NOON = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)  # a Monday


def _slack(name: str, **extra: object) -> ChannelBase:
    return SlackChannel.model_validate({"name": name, "url": "https://hooks.example/x", **extra})


def _routes(*raw: dict[str, object]) -> list[RouteConfig]:
    return [RouteConfig.model_validate(r) for r in raw]


def _sent_to(decisions: list) -> list[str]:  # type: ignore[type-arg]
    return [d.channel for d in decisions if d.send_now]


CHANNELS = [_slack("payments"), _slack("raw-pager"), _slack("catch-all"), _slack("finance")]
ROUTES = _routes(
    {"match": {"owner": "team-payments"}, "channels": ["payments"]},
    {"match": {"schema": "raw*", "severity": ["high", "critical"]}, "channels": ["raw-pager"]},
    {"match": {"tag": "finance", "kind": ["volume", "freshness"]}, "channels": ["finance"]},
    {"match": {"table": "marts.fct_*"}, "channels": ["finance"]},
)


def test_without_routes_every_channel_gets_everything(
    make_incident: Callable[..., Incident],
) -> None:
    decisions = route(make_incident(), [], CHANNELS, now=NOON)
    assert _sent_to(decisions) == ["payments", "raw-pager", "catch-all", "finance"]
    assert all("no routes configured" in d.reason for d in decisions)


def test_rules_by_owner_schema_severity_tag_kind_table(
    make_incident: Callable[..., Incident],
) -> None:
    inc = make_incident()  # owner team-payments, raw.orders, high, category_new_value
    decisions = route(inc, ROUTES, CHANNELS, now=NOON)
    assert _sent_to(decisions) == ["payments", "raw-pager"]
    by_name = {d.channel: d for d in decisions}
    assert by_name["payments"].rules == (0,)
    assert "route 0 (owner=team-payments)" in by_name["payments"].reason
    assert "schema=raw*" in by_name["raw-pager"].reason
    assert by_name["finance"].disposition is Disposition.SKIP

    low = make_incident(severity=Severity.LOW, owner=None)
    assert _sent_to(route(low, ROUTES, CHANNELS, now=NOON, default_channel="catch-all")) == [
        "catch-all"
    ]
    volume = make_incident(kind=AlertKind.VOLUME, owner="x", severity=Severity.LOW)
    assert _sent_to(route(volume, ROUTES, CHANNELS, now=NOON)) == ["finance"]
    mart = make_incident(table=TableRef("main", "marts", "fct_orders"), owner="x", tags=())
    assert _sent_to(route(mart, ROUTES, CHANNELS, now=NOON)) == ["finance"]
    mart_by_name = _routes({"match": {"table": "FCT_*"}, "channels": ["finance"]})
    assert _sent_to(route(mart, mart_by_name, CHANNELS, now=NOON)) == ["finance"]


def test_several_matching_routes_union(make_incident: Callable[..., Incident]) -> None:
    routes = _routes(
        {"match": {"owner": "team-*"}, "channels": ["payments", "finance"]},
        {"match": {"severity": "high"}, "channels": ["finance"]},
    )
    decisions = route(make_incident(), routes, CHANNELS, now=NOON)
    assert _sent_to(decisions) == ["payments", "finance"]
    assert {d.channel: d.rules for d in decisions}["finance"] == (0, 1)


def test_owner_without_route_falls_back_to_default_with_warning(
    make_incident: Callable[..., Incident], caplog: pytest.LogCaptureFixture
) -> None:
    inc = make_incident(owner="team-nobody", severity=Severity.LOW, tags=())
    with caplog.at_level(logging.WARNING, "tidegauge.notifiers.routing"):
        decisions = route(inc, ROUTES, CHANNELS, now=NOON, default_channel="catch-all")
    [chosen] = [d for d in decisions if d.send_now]
    assert chosen.channel == "catch-all" and chosen.fallback
    assert "default channel" in chosen.reason
    assert "team-nobody" in caplog.text and "catch-all" in caplog.text


def test_no_route_and_no_default_notifies_nobody_loudly(
    make_incident: Callable[..., Incident], caplog: pytest.LogCaptureFixture
) -> None:
    inc = make_incident(owner="team-nobody", severity=Severity.LOW, tags=())
    with caplog.at_level(logging.WARNING, "tidegauge.notifiers.routing"):
        decisions = route(inc, ROUTES, CHANNELS, now=NOON)
    assert _sent_to(decisions) == []
    assert all(d.disposition is Disposition.SKIP for d in decisions)
    assert "nobody is notified" in caplog.text


def test_severity_floor(make_incident: Callable[..., Incident]) -> None:
    channels = [_slack("pager", min_severity="high"), _slack("all")]
    decisions = route(make_incident(severity=Severity.MEDIUM), [], channels, now=NOON)
    assert _sent_to(decisions) == ["all"]
    assert "below the channel floor high" in decisions[0].reason
    assert _sent_to(route(make_incident(severity=Severity.HIGH), [], channels, now=NOON)) == [
        "pager",
        "all",
    ]


def test_quiet_hours_hold_until_end_but_critical_goes_through(
    make_incident: Callable[..., Incident],
) -> None:
    quiet = {"start": "22:00", "end": "07:00", "tz": "America/New_York"}  # UTC-4 in June
    channels = [_slack("night", quiet_hours=quiet)]
    at_night = datetime(2024, 6, 4, 3, 0, tzinfo=UTC)  # 23:00 New York
    [held] = route(make_incident(severity=Severity.HIGH), [], channels, now=at_night)
    assert held.disposition is Disposition.HOLD and not held.send_now
    assert held.hold_until == datetime(2024, 6, 4, 11, 0, tzinfo=UTC)  # 07:00 New York
    assert "quiet hours 22:00-07:00 America/New_York" in held.reason
    [critical] = route(make_incident(severity=Severity.CRITICAL), [], channels, now=at_night)
    assert critical.send_now
    [daytime] = route(make_incident(), [], channels, now=NOON)
    assert daytime.send_now
    # Releasing at the end of the window: route again at hold_until and it goes.
    [released] = route(make_incident(), [], channels, now=held.hold_until)
    assert released.send_now


def test_budget_turns_into_digest(make_incident: Callable[..., Incident]) -> None:
    channels = [_slack("busy", max_messages_per_hour=10), _slack("free")]
    inc = make_incident()
    assert _sent_to(route(inc, [], channels, now=NOON, sent_last_hour={"busy": 9})) == [
        "busy",
        "free",
    ]
    decisions = route(inc, [], channels, now=NOON, sent_last_hour={"busy": 10, "free": 500})
    assert decisions[0].disposition is Disposition.DIGEST
    assert "10 of 10 messages in the last hour" in decisions[0].reason
    assert decisions[1].send_now


def test_quiet_hours_win_over_budget(make_incident: Callable[..., Incident]) -> None:
    quiet = {"start": "00:00", "end": "23:59"}
    channels = [_slack("c", quiet_hours=quiet, max_messages_per_hour=1)]
    [d] = route(make_incident(), [], channels, now=NOON, sent_last_hour={"c": 5})
    assert d.disposition is Disposition.HOLD


def test_unknown_channel_in_route_is_skipped(
    make_incident: Callable[..., Incident], caplog: pytest.LogCaptureFixture
) -> None:
    routes = _routes({"channels": ["ghost", "payments"]})
    with caplog.at_level(logging.ERROR, "tidegauge.notifiers.routing"):
        decisions = route(make_incident(), routes, CHANNELS, now=NOON)
    assert _sent_to(decisions) == ["payments"]
    assert "ghost" in caplog.text


def test_naive_now_is_refused(make_incident: Callable[..., Incident]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route(make_incident(), [], CHANNELS, now=datetime(2024, 1, 1))


def test_webhook_channels_route_like_any_other(make_incident: Callable[..., Incident]) -> None:
    hook = WebhookChannel(name="data-alerts", url="http://127.0.0.1:9000/hook")
    routes = _routes(
        {"match": {"schema": "raw*", "severity": ["high", "critical"]}, "channels": ["data-alerts"]}
    )
    assert _sent_to(route(make_incident(), routes, [hook], now=NOON)) == ["data-alerts"]


def test_should_renotify() -> None:
    policy = timedelta(hours=4)
    assert should_renotify(None, NOON, policy)
    assert should_renotify(None, NOON, None)
    assert not should_renotify(NOON - timedelta(hours=1), NOON, None)
    assert not should_renotify(NOON - timedelta(hours=3, minutes=59), NOON, policy)
    assert should_renotify(NOON - timedelta(hours=4), NOON, policy)

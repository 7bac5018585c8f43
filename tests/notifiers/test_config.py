from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from tidegauge.core.model import AlertKind, Severity
from tidegauge.notifiers.config import (
    Channel,
    EmailChannel,
    NotificationsConfig,
    OpsgenieChannel,
    PagerDutyChannel,
    QuietHours,
    RouteConfig,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
    parse_duration,
)

CHANNEL = TypeAdapter(Channel)
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"


def test_discriminated_union_picks_each_type() -> None:
    raw = [
        {"name": "a", "type": "slack", "url": SLACK_URL},
        {"name": "b", "type": "teams", "url": "https://x.webhook.office.com/webhookb2/abc"},
        {"name": "c", "type": "pagerduty", "routing_key": "R" * 32},
        {
            "name": "d",
            "type": "opsgenie",
            "api_key": "k",
            "responders": [
                {"type": "team", "name": "data"},
                {"type": "user", "username": "ann@x.io"},
            ],
        },
        {"name": "e", "type": "email", "host": "smtp.x.io", "from": "tg@x.io", "to": ["a@x.io"]},
        {"name": "f", "type": "webhook", "url": "http://127.0.0.1:9000/hook", "secret": "s"},
    ]
    parsed = [CHANNEL.validate_python(r) for r in raw]
    assert [type(p) for p in parsed] == [
        SlackChannel,
        TeamsChannel,
        PagerDutyChannel,
        OpsgenieChannel,
        EmailChannel,
        WebhookChannel,
    ]
    pd = parsed[2]
    assert isinstance(pd, PagerDutyChannel)
    assert pd.events_url == "https://events.pagerduty.com/v2/enqueue"
    og = parsed[3]
    assert isinstance(og, OpsgenieChannel)
    assert og.api_url == "https://api.opsgenie.com"
    assert og.responders[1].as_payload() == {"type": "user", "username": "ann@x.io"}
    email = parsed[4]
    assert isinstance(email, EmailChannel)
    assert email.sender == "tg@x.io" and email.effective_port == 587


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(ValidationError, match="discord"):
        CHANNEL.validate_python({"name": "x", "type": "discord", "url": SLACK_URL})


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://example.com/x",
        "http://",
        "hooks.slack.com/services/x",
        "",
        "http://exa mple.com/",
        "https://host:99999/x",
    ],
)
def test_malformed_url_names_the_field_and_hides_the_value(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        CHANNEL.validate_python({"name": "x", "type": "slack", "url": url})
    errors = info.value.errors()
    assert errors[0]["loc"][-1] == "url"
    if url:
        assert url not in str(info.value)


def test_malformed_api_url_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        PagerDutyChannel(name="p", routing_key="k", events_url="events.pagerduty.com")
    assert info.value.errors()[0]["loc"] == ("events_url",)


def test_secrets_never_show_in_repr_or_dump() -> None:
    ch = WebhookChannel(
        name="w",
        url="https://x.io/hook?token=TOPSECRET",
        secret="HMACKEY",
        headers={"Authorization": "Bearer BEARERTOKEN"},
    )
    text = repr(ch) + str(ch.model_dump())
    for secret in ("TOPSECRET", "HMACKEY", "BEARERTOKEN"):
        assert secret not in text
    assert {
        "https://x.io/hook?token=TOPSECRET",
        "token=TOPSECRET",
        "HMACKEY",
        "Bearer BEARERTOKEN",
    } <= set(ch.secret_values())
    assert "/hook" not in ch.secret_values()  # too short to be a secret on its own


def test_webhook_headers_cannot_override_signature_or_inject() -> None:
    with pytest.raises(ValidationError, match="cannot be overridden"):
        WebhookChannel(name="w", url="http://h/x", headers={"X-Tidegauge-Signature": "x"})
    with pytest.raises(ValidationError, match="line break"):
        WebhookChannel(name="w", url="http://h/x", headers={"X-A": "a\r\nX-B: b"})
    with pytest.raises(ValidationError, match="invalid header name"):
        WebhookChannel(name="w", url="http://h/x", headers={"Bad Name": "a"})


def test_email_validation() -> None:
    with pytest.raises(ValidationError):
        EmailChannel(name="e", host="h", **{"from": "not-an-address"}, to=["a@x.io"])
    with pytest.raises(ValidationError):
        EmailChannel(name="e", host="h", **{"from": "a@x.io"}, to=[])
    with pytest.raises(ValidationError, match="not both"):
        EmailChannel(
            name="e", host="h", **{"from": "a@x.io"}, to=["b@x.io"], ssl=True, starttls=True
        )
    smtps = EmailChannel(name="e", host="h", **{"from": "a@x.io"}, to=["b@x.io"], ssl=True)
    assert smtps.effective_port == 465


def test_opsgenie_responder_needs_one_identifier() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        OpsgenieChannel(name="o", api_key="k", responders=[{"type": "team"}])
    with pytest.raises(ValidationError, match="username only"):
        OpsgenieChannel(name="o", api_key="k", responders=[{"type": "team", "username": "u"}])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("90s", timedelta(seconds=90)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    ch = SlackChannel(name="s", url=SLACK_URL, renotify_after=text)
    assert ch.renotify_after == expected


def test_renotify_accepts_iso_seconds_and_null() -> None:
    assert SlackChannel(name="s", url=SLACK_URL, renotify_after="PT2H").renotify_after == (
        timedelta(hours=2)
    )
    assert SlackChannel(name="s", url=SLACK_URL, renotify_after=600).renotify_after == (
        timedelta(minutes=10)
    )
    assert SlackChannel(name="s", url=SLACK_URL, renotify_after=None).renotify_after is None
    with pytest.raises(ValidationError):
        SlackChannel(name="s", url=SLACK_URL, renotify_after="soon")


def test_quiet_hours_parse_and_validate() -> None:
    q = QuietHours(start="22:00", end="07:30", tz="Europe/Paris")
    assert (q.start, q.end) == (time(22, 0), time(7, 30))
    with pytest.raises(ValidationError, match="unknown time zone"):
        QuietHours(start="22:00", end="07:00", tz="Mars/Olympus")
    with pytest.raises(ValidationError, match="must differ"):
        QuietHours(start="22:00", end="22:00")
    with pytest.raises(ValidationError):
        QuietHours(start="25:00", end="07:00")


def test_quiet_hours_wrap_midnight_and_time_zone() -> None:
    q = QuietHours(start="22:00", end="07:00", tz="Europe/Paris")  # UTC+2 in June
    assert q.contains(datetime(2024, 6, 1, 20, 30, tzinfo=UTC))  # 22:30 Paris
    assert q.contains(datetime(2024, 6, 2, 4, 0, tzinfo=UTC))  # 06:00 Paris
    assert not q.contains(datetime(2024, 6, 2, 5, 0, tzinfo=UTC))  # 07:00 Paris
    assert not q.contains(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    assert q.ends_after(datetime(2024, 6, 1, 20, 30, tzinfo=UTC)) == datetime(
        2024, 6, 2, 5, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        q.contains(datetime(2024, 6, 1, 12, 0))


def test_quiet_hours_end_across_dst_change() -> None:
    # Night of 30-31 March 2024 Paris springs forward (02:00 -> 03:00, UTC+1 -> UTC+2).
    q = QuietHours(start="23:00", end="08:00", tz="Europe/Paris")
    now = datetime(2024, 3, 30, 23, 0, tzinfo=UTC)  # 00:00 Paris, UTC+1
    assert q.contains(now)
    assert q.ends_after(now) == datetime(2024, 3, 31, 6, 0, tzinfo=UTC)  # 08:00 UTC+2


def test_route_config_accepts_single_values_and_lists() -> None:
    r = RouteConfig.model_validate(
        {
            "match": {
                "schema": "raw*",
                "severity": ["high", "critical"],
                "kind": "freshness",
                "owner": "team-a",
            },
            "channels": "data-alerts",
        }
    )
    assert r.match.schema_ == ["raw*"]
    assert r.match.severity == [Severity.HIGH, Severity.CRITICAL]
    assert r.match.kind == [AlertKind.FRESHNESS]
    assert r.channels == ["data-alerts"]
    with pytest.raises(ValidationError):
        RouteConfig.model_validate({"match": {"severity": ["urgent"]}, "channels": ["x"]})
    with pytest.raises(ValidationError):
        RouteConfig.model_validate({"match": {"colour": "red"}, "channels": ["x"]})


def test_notifications_config_checks_references() -> None:
    good = NotificationsConfig.model_validate(
        {
            "channels": [
                {"name": "data-alerts", "type": "webhook", "url": "http://127.0.0.1:9000/hook"}
            ],
            "routes": [
                {
                    "match": {"schema": "raw*", "severity": ["high", "critical"]},
                    "channels": ["data-alerts"],
                }
            ],
            "default_channel": "data-alerts",
        }
    )
    assert good.channel("data-alerts").name == "data-alerts"
    with pytest.raises(ValidationError, match="unknown channels: pager"):
        NotificationsConfig.model_validate(
            {
                "channels": [{"name": "a", "type": "slack", "url": SLACK_URL}],
                "routes": [{"channels": ["pager"]}],
            }
        )
    with pytest.raises(ValidationError, match="duplicate channel names: a"):
        NotificationsConfig.model_validate(
            {
                "channels": [
                    {"name": "a", "type": "slack", "url": SLACK_URL},
                    {"name": "a", "type": "teams", "url": SLACK_URL},
                ]
            }
        )
    with pytest.raises(ValidationError, match="default_channel"):
        NotificationsConfig.model_validate({"channels": [], "default_channel": "nope"})

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from tidegauge.core.model import Incident
from tidegauge.notifiers.base import (
    MAX_RETRY_AFTER_SECONDS,
    NOTIFIERS,
    Notifier,
    PermanentDeliveryError,
    RetryableDeliveryError,
    load_notifier,
    notifier_class,
    parse_retry_after,
    redact,
)
from tidegauge.notifiers.config import (
    Channel,
    EmailChannel,
    OpsgenieChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from tidegauge.notifiers.messages import build_message

from .servers import HttpRecorder, Reply

TOKEN = "T0KEN-abcdef-123456"


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(" 2.5 ") == 2.5
    later = format_datetime(datetime(2024, 5, 1, 12, 1, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now=now) == 90.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0  # past
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("99999999") == MAX_RETRY_AFTER_SECONDS
    for junk in (None, "", "soon", "nan"):
        assert parse_retry_after(junk) is None


def test_redact_longest_first() -> None:
    text = redact("posting to https://h/x/abc failed with abc", ["abc", "https://h/x/abc"])
    assert text == "posting to *** failed with ***"


def test_registry_loads_every_builtin_type() -> None:
    configs: list[Channel] = [
        SlackChannel(name="s", url="http://127.0.0.1:1/x"),
        TeamsChannel(name="t", url="http://127.0.0.1:1/x"),
        PagerDutyChannel(name="p", routing_key="k"),
        OpsgenieChannel(name="o", api_key="k"),
        EmailChannel(name="e", host="127.0.0.1", **{"from": "a@x.io"}, to=["b@x.io"]),
        WebhookChannel(name="w", url="http://127.0.0.1:1/x"),
    ]
    assert sorted(NOTIFIERS) == sorted(c.type for c in configs)
    for config in configs:
        with load_notifier(config) as notifier:
            assert isinstance(notifier, Notifier)
            assert notifier.type == config.type and notifier.name == config.name
            assert type(notifier).__name__.lower().startswith(config.type)


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown notifier type 'discord'.*slack"):
        notifier_class("discord")


def test_third_party_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tg_fake_notifier.py").write_text(
        textwrap.dedent(
            """
            from tidegauge.notifiers.base import DeliveryResult, Notifier

            class FakeNotifier(Notifier):
                type = "fake"

                def send(self, message, *, dedup_key, action, idempotency_key=None):
                    return DeliveryResult(self.name, action, dedup_key, detail="fake")
            """
        )
    )
    dist = tmp_path / "tg_fake_notifier-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tg-fake-notifier\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[tidegauge.notifiers]\nfake = tg_fake_notifier:FakeNotifier\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    class FakeConfig:
        type = "fake"
        name = "third-party"

    notifier = load_notifier(FakeConfig())
    assert type(notifier).__name__ == "FakeNotifier"


def _slack(recorder: HttpRecorder, *, timeout: float = 2.0) -> Notifier:
    config = SlackChannel(
        name="alerts", url=recorder.url(f"/services/{TOKEN}"), timeout_seconds=timeout
    )
    return load_notifier(config)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retryable(
    recorder: HttpRecorder, make_incident: Callable[..., Incident], status: int
) -> None:
    recorder.reply(Reply(status=status, body=b"upstream down"))
    msg = build_message(make_incident(), url="https://tg/i/42")
    with _slack(recorder) as notifier, pytest.raises(RetryableDeliveryError) as info:
        notifier.send(msg, dedup_key="k", action="trigger")
    assert f"HTTP {status}" in info.value.reason
    assert info.value.retry_after is None


def test_429_honours_retry_after_seconds_and_date(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    msg = build_message(make_incident(), url="https://tg/i/42")
    in_a_minute = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True)
    recorder.reply(
        Reply(status=429, headers={"Retry-After": "7"}),
        Reply(status=503, headers={"Retry-After": in_a_minute}),
    )
    with _slack(recorder) as notifier:
        with pytest.raises(RetryableDeliveryError) as first:
            notifier.send(msg, dedup_key="k", action="trigger")
        assert first.value.retry_after == 7.0
        with pytest.raises(RetryableDeliveryError) as second:
            notifier.send(msg, dedup_key="k", action="trigger")
        assert second.value.retry_after is not None and 0 <= second.value.retry_after <= 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 301])
def test_client_errors_are_permanent(
    recorder: HttpRecorder, make_incident: Callable[..., Incident], status: int
) -> None:
    recorder.reply(Reply(status=status, body=b"invalid_payload"))
    msg = build_message(make_incident(), url="https://tg/i/42")
    with _slack(recorder) as notifier, pytest.raises(PermanentDeliveryError):
        notifier.send(msg, dedup_key="k", action="trigger")


def test_hang_times_out_as_retryable(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    recorder.reply(Reply(hang=5.0))
    msg = build_message(make_incident(), url="https://tg/i/42")
    started = datetime.now(UTC)
    with _slack(recorder, timeout=0.3) as notifier, pytest.raises(RetryableDeliveryError) as info:
        notifier.send(msg, dedup_key="k", action="trigger")
    assert (datetime.now(UTC) - started).total_seconds() < 3
    assert "timed out" in info.value.reason


def test_connection_refused_is_retryable(make_incident: Callable[..., Incident]) -> None:
    from .servers import free_port

    config = SlackChannel(name="alerts", url=f"http://127.0.0.1:{free_port()}/services/{TOKEN}")
    msg = build_message(make_incident(), url="https://tg/i/42")
    with load_notifier(config) as notifier, pytest.raises(RetryableDeliveryError) as info:
        notifier.send(msg, dedup_key="k", action="trigger")
    assert "connection failed" in info.value.reason
    assert TOKEN not in info.value.reason


def test_secrets_never_in_errors_or_logs(
    recorder: HttpRecorder,
    make_incident: Callable[..., Incident],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The server echoes the secret URL path back in its error body.
    recorder.reply(Reply(status=400, body=b"bad hook ", echo_path=True))
    recorder.reply(Reply(status=500, body=b"oops ", echo_path=True))
    msg = build_message(make_incident(), url="https://tg/i/42")
    caplog.set_level("DEBUG")
    with _slack(recorder) as notifier:
        with pytest.raises(PermanentDeliveryError) as permanent:
            notifier.send(msg, dedup_key="k", action="trigger")
        with pytest.raises(RetryableDeliveryError) as retryable:
            notifier.send(msg, dedup_key="k", action="trigger")
    for err in (permanent.value, retryable.value):
        assert TOKEN not in str(err) and TOKEN not in repr(err)
        assert "***" in err.reason
    assert TOKEN not in caplog.text
    assert "alerts" in caplog.text


def test_bad_action_and_empty_key_are_permanent(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    msg = build_message(make_incident(), url="https://tg/i/42")
    with _slack(recorder) as notifier:
        with pytest.raises(PermanentDeliveryError):
            notifier.send(msg, dedup_key="k", action="ack")  # type: ignore[arg-type]
        with pytest.raises(PermanentDeliveryError):
            notifier.send(msg, dedup_key="", action="trigger")
    assert recorder.requests == []

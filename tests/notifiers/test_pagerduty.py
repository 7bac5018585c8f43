from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest

from tidegauge.core.model import Incident, IncidentStatus, Severity
from tidegauge.notifiers.base import (
    PermanentDeliveryError,
    RetryableDeliveryError,
    load_notifier,
)
from tidegauge.notifiers.config import PagerDutyChannel
from tidegauge.notifiers.messages import build_message
from tidegauge.notifiers.pagerduty import fit_dedup_key

from .servers import HttpRecorder, Reply

URL = "https://tidegauge.example/incidents/42"
ROUTING_KEY = "R0UTINGKEY0123456789abcdef012345"
ACCEPTED = Reply(
    status=202,
    body=b'{"status":"success","message":"Event processed","dedup_key":"incident-42"}',
    headers={"Content-Type": "application/json"},
)


def _channel(recorder: HttpRecorder) -> PagerDutyChannel:
    return PagerDutyChannel(
        name="pager", routing_key=ROUTING_KEY, events_url=recorder.url("/v2/enqueue")
    )


def test_trigger_has_the_documented_shape(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    recorder.reply(ACCEPTED)
    with load_notifier(_channel(recorder)) as notifier:
        result = notifier.send(
            build_message(make_incident(), url=URL), dedup_key="incident-42", action="trigger"
        )
    assert result.status_code == 202 and result.remote_id == "incident-42"
    req = recorder.last
    assert req.path == "/v2/enqueue"
    event = req.json()
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "incident-42"
    payload = event["payload"]
    assert {"summary", "source", "severity"} <= set(payload)
    assert isinstance(payload["summary"], str) and 0 < len(payload["summary"]) <= 1024
    assert payload["severity"] in {"critical", "error", "warning", "info"}
    assert payload["severity"] == "error"  # high
    assert payload["source"] == "main"
    assert payload["component"] == "raw.orders"
    assert payload["group"] == "raw"
    assert payload["class"] == "category_new_value"
    datetime.fromisoformat(payload["timestamp"])
    details = payload["custom_details"]
    assert details["impact"]["exposures"] == ["Revenue dashboard", "Finance weekly"]
    assert details["observed"] == 0.15
    assert event["links"] == [{"href": URL, "text": "Open incident in tidegauge"}]
    assert event["client"] == "tidegauge" and event["client_url"] == URL


def test_resolve_reuses_the_dedup_key_and_sends_nothing_else(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    recorder.reply(ACCEPTED, ACCEPTED)
    inc = make_incident()
    with load_notifier(_channel(recorder)) as notifier:
        notifier.send(build_message(inc, url=URL), dedup_key="incident-42", action="trigger")
        inc.status = IncidentStatus.FIXED
        notifier.send(
            build_message(inc, url=URL, action="resolve"), dedup_key="incident-42", action="resolve"
        )
    trigger, resolve = (r.json() for r in recorder.requests)
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "incident-42",
    }
    assert trigger["dedup_key"] == resolve["dedup_key"]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (Severity.CRITICAL, "critical"),
        (Severity.HIGH, "error"),
        (Severity.MEDIUM, "warning"),
        (Severity.LOW, "warning"),
        (Severity.INFO, "info"),
    ],
)
def test_severity_mapping(
    recorder: HttpRecorder,
    make_incident: Callable[..., Incident],
    severity: Severity,
    expected: str,
) -> None:
    with load_notifier(_channel(recorder)) as notifier:
        notifier.send(
            build_message(make_incident(severity=severity), url=URL),
            dedup_key="k",
            action="trigger",
        )
    assert recorder.last.json()["payload"]["severity"] == expected


def test_long_summary_and_dedup_key_fit_limits(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    long_key = "incident:" + "x" * 400
    with load_notifier(_channel(recorder)) as notifier:
        notifier.send(
            build_message(make_incident(title="T" * 2000), url=URL),
            dedup_key=long_key,
            action="trigger",
        )
        notifier.send(
            build_message(make_incident(), url=URL, action="resolve"),
            dedup_key=long_key,
            action="resolve",
        )
    trigger, resolve = (r.json() for r in recorder.requests)
    assert len(trigger["payload"]["summary"]) == 1024
    assert len(trigger["dedup_key"]) <= 255
    assert trigger["dedup_key"] == resolve["dedup_key"] == fit_dedup_key(long_key)


def test_invalid_event_is_permanent_and_rate_limit_retryable(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    recorder.reply(
        Reply(
            status=400,
            body=json.dumps(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": [f"routing_key {ROUTING_KEY} is invalid"],
                }
            ).encode(),
        ),
        Reply(status=429, headers={"Retry-After": "12"}),
    )
    msg = build_message(make_incident(), url=URL)
    with load_notifier(_channel(recorder)) as notifier:
        with pytest.raises(PermanentDeliveryError) as bad:
            notifier.send(msg, dedup_key="k", action="trigger")
        with pytest.raises(RetryableDeliveryError) as limited:
            notifier.send(msg, dedup_key="k", action="trigger")
    assert ROUTING_KEY not in str(bad.value) and "invalid event" in str(bad.value)
    assert limited.value.retry_after == 12.0

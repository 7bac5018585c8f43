from __future__ import annotations

import time
from collections.abc import Callable

from tidegauge.core.model import Incident
from tidegauge.notifiers.base import load_notifier
from tidegauge.notifiers.config import WebhookChannel
from tidegauge.notifiers.messages import Message, build_message
from tidegauge.notifiers.webhook import sign, verify_signature

from .conftest import NASTY
from .servers import HttpRecorder

URL = "https://tidegauge.example/incidents/42"
SECRET = "whsec_0123456789"


def _channel(recorder: HttpRecorder, **extra: object) -> WebhookChannel:
    return WebhookChannel.model_validate(
        {"name": "hook", "url": recorder.url("/hook"), "secret": SECRET, **extra}
    )


def test_signed_body_verifies(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    with load_notifier(_channel(recorder)) as notifier:
        notifier.send(
            build_message(make_incident(), url=URL), dedup_key="incident-42", action="trigger"
        )
    req = recorder.last
    ts = req.headers["x-tidegauge-timestamp"]
    assert abs(int(ts) - time.time()) < 60
    signature = req.headers["x-tidegauge-signature"]
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify_signature(SECRET, req.body, ts, signature)
    # Tampering with the body, the timestamp or the key fails.
    assert not verify_signature(SECRET, req.body + b" ", ts, signature)
    assert not verify_signature(SECRET, req.body, str(int(ts) + 1), signature)
    assert not verify_signature("other", req.body, ts, signature)
    assert not verify_signature(SECRET, req.body, "not-a-number", signature)


def test_replay_outside_tolerance_is_rejected() -> None:
    body, ts = b'{"a":1}', "1700000000"
    good = sign(SECRET, ts, body)
    assert verify_signature(SECRET, body, ts, good, now=1700000000 + 299)
    assert not verify_signature(SECRET, body, ts, good, now=1700000000 + 301)
    assert not verify_signature(SECRET, body, ts, good, now=1700000000 - 301)


def test_body_headers_and_idempotency(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    channel = _channel(recorder, headers={"Authorization": "Bearer abc", "X-Team": "data"})
    msg = build_message(make_incident(title=NASTY), url=URL)
    with load_notifier(channel) as notifier:
        first = notifier.send(msg, dedup_key="incident-42", action="trigger")
        notifier.send(msg, dedup_key="incident-42", action="trigger")  # a retry
        notifier.send(msg, dedup_key="incident-42", action="trigger", idempotency_key="row-7")
        notifier.send(
            build_message(make_incident(), url=URL, action="resolve"),
            dedup_key="incident-42",
            action="resolve",
        )
    keys = [r.headers["idempotency-key"] for r in recorder.requests]
    assert keys == ["incident-42:trigger", "incident-42:trigger", "row-7", "incident-42:resolve"]
    assert first.remote_id == "incident-42:trigger"
    req = recorder.requests[0]
    assert req.headers["authorization"] == "Bearer abc" and req.headers["x-team"] == "data"
    assert req.headers["x-tidegauge-event"] == "incident.trigger"
    assert req.headers["content-type"].startswith("application/json")
    body = req.json()
    assert body["version"] == 1 and body["event"] == "incident.trigger"
    assert body["dedup_key"] == "incident-42"
    assert Message.from_dict(body["message"]) == msg  # the full neutral message, raw text
    assert body["message"]["title"].endswith(NASTY)  # JSON carries data; receivers escape
    assert recorder.requests[3].json()["event"] == "incident.resolve"


def test_unsigned_when_no_secret(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    channel = WebhookChannel(name="hook", url=recorder.url("/hook"))
    with load_notifier(channel) as notifier:
        notifier.send(build_message(make_incident(), url=URL), dedup_key="k", action="trigger")
    assert "x-tidegauge-signature" not in recorder.last.headers
    assert "x-tidegauge-timestamp" in recorder.last.headers


def test_non_ascii_key_becomes_a_stable_header(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    with load_notifier(_channel(recorder)) as notifier:
        for _ in range(2):
            notifier.send(
                build_message(make_incident(), url=URL), dedup_key="incidént\n42", action="trigger"
            )
    first, second = (r.headers["idempotency-key"] for r in recorder.requests)
    assert first == second and first.startswith("tidegauge-") and first.isascii()

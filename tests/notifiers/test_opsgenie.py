from __future__ import annotations

from collections.abc import Callable

import pytest

from tidegauge.core.model import Incident, Severity
from tidegauge.notifiers.base import PermanentDeliveryError, load_notifier
from tidegauge.notifiers.config import OpsgenieChannel
from tidegauge.notifiers.messages import build_message

from .servers import HttpRecorder, Reply

URL = "https://tidegauge.example/incidents/42"
API_KEY = "eb243592-faa2-4ba2-a551q-1afdf565c889"
ACCEPTED = Reply(
    status=202,
    body=b'{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c"}',
    headers={"Content-Type": "application/json"},
)


def _channel(recorder: HttpRecorder) -> OpsgenieChannel:
    return OpsgenieChannel(
        name="og",
        api_key=API_KEY,
        api_url=recorder.url(""),
        responders=[{"type": "team", "name": "data-eng"}, {"type": "user", "username": "a@x.io"}],
        tags=["warehouse"],
    )


def test_create_alert_shape(recorder: HttpRecorder, make_incident: Callable[..., Incident]) -> None:
    recorder.reply(ACCEPTED)
    with load_notifier(_channel(recorder)) as notifier:
        result = notifier.send(
            build_message(make_incident(), url=URL), dedup_key="incident-42", action="trigger"
        )
    assert result.remote_id == "43a29c5c"
    req = recorder.last
    assert req.method == "POST" and req.path == "/v2/alerts"
    assert req.headers["authorization"] == f"GenieKey {API_KEY}"
    body = req.json()
    assert body["alias"] == "incident-42"
    assert 0 < len(body["message"]) <= 130
    assert len(body["description"]) <= 15000 and "Revenue dashboard" in body["description"]
    assert URL in body["description"]
    assert body["priority"] == "P2"
    assert body["responders"] == [
        {"type": "team", "name": "data-eng"},
        {"type": "user", "username": "a@x.io"},
    ]
    assert body["entity"] == "raw.orders" and body["source"] == "tidegauge"
    assert body["tags"] == ["tidegauge", "warehouse", "finance", "pii"]
    assert all(isinstance(v, str) for v in body["details"].values())
    assert sum(len(k) + len(v) for k, v in body["details"].items()) <= 8000


def test_close_by_alias(recorder: HttpRecorder, make_incident: Callable[..., Incident]) -> None:
    recorder.reply(ACCEPTED)
    key = "tidegauge/incident 42?x"
    with load_notifier(_channel(recorder)) as notifier:
        notifier.send(
            build_message(make_incident(), url=URL, action="resolve"),
            dedup_key=key,
            action="resolve",
        )
    req = recorder.last
    assert req.path == "/v2/alerts/tidegauge%2Fincident%2042%3Fx/close"
    assert req.query == {"identifierType": ["alias"]}
    assert req.headers["authorization"] == f"GenieKey {API_KEY}"
    assert req.json()["source"] == "tidegauge"


@pytest.mark.parametrize(
    ("severity", "priority"),
    [(Severity.CRITICAL, "P1"), (Severity.MEDIUM, "P3"), (Severity.INFO, "P5")],
)
def test_priority(
    recorder: HttpRecorder,
    make_incident: Callable[..., Incident],
    severity: Severity,
    priority: str,
) -> None:
    with load_notifier(_channel(recorder)) as notifier:
        notifier.send(
            build_message(make_incident(severity=severity), url=URL),
            dedup_key="k",
            action="trigger",
        )
    assert recorder.last.json()["priority"] == priority


def test_bad_key_is_permanent_and_not_leaked(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    recorder.reply(Reply(status=422, body=f'{{"message":"Key {API_KEY} invalid"}}'.encode()))
    with (
        load_notifier(_channel(recorder)) as notifier,
        pytest.raises(PermanentDeliveryError) as info,
    ):
        notifier.send(build_message(make_incident(), url=URL), dedup_key="k", action="trigger")
    assert API_KEY not in str(info.value) and "422" in str(info.value)

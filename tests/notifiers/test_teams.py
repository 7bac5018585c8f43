from __future__ import annotations

import json
from collections.abc import Callable

from tidegauge.core.model import Impact, Incident
from tidegauge.notifiers.base import load_notifier
from tidegauge.notifiers.config import TeamsChannel
from tidegauge.notifiers.messages import build_message
from tidegauge.notifiers.teams import MAX_PAYLOAD_BYTES, markdown_escape, render_teams

from .conftest import NASTY
from .servers import HttpRecorder, Reply

URL = "https://tidegauge.example/incidents/42"
ELEMENTS = {"TextBlock", "FactSet"}


def test_sends_adaptive_card_in_message_envelope(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    recorder.reply(Reply(status=202, body=b""))  # Workflows webhooks answer 202
    config = TeamsChannel(name="teams", url=recorder.url("/workflows/abc/triggers/manual"))
    with load_notifier(config) as notifier:
        result = notifier.send(
            build_message(make_incident(), url=URL), dedup_key="k", action="trigger"
        )
    assert result.status_code == 202
    payload = recorder.last.json()
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["version"] == "1.4"
    for element in card["body"]:
        assert element["type"] in ELEMENTS
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["wrap"] is True
        else:
            assert all(set(f) == {"title", "value"} for f in element["facts"])
    assert card["body"][0]["weight"] == "Bolder" and card["body"][0]["color"] == "Attention"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open incident in tidegauge", "url": URL}
    ]
    assert len(recorder.last.body) <= MAX_PAYLOAD_BYTES


def test_markdown_is_escaped(make_incident: Callable[..., Incident]) -> None:
    inc = make_incident(
        title="*bold* [click](https://evil.example) stg_orders_daily _x_",
        impact=Impact(tables=("- not a list", "1. nor this")),
    )
    card = render_teams(build_message(inc, url=URL))["attachments"][0]["content"]
    flat = json.dumps(card["body"])
    assert "[click](" not in flat
    assert r"\\*bold\\* \\[click\\](https://evil.example) stg_orders_daily \\_x\\_" in flat
    assert r"- \\- not a list" in flat and r"- 1\\. nor this" in flat


def test_html_is_inert_text(make_incident: Callable[..., Incident]) -> None:
    # Adaptive Cards render no HTML, so it is shown as typed (not entity-encoded).
    card = render_teams(build_message(make_incident(title=NASTY), url=URL))
    assert NASTY in card["attachments"][0]["content"]["body"][0]["text"]


def test_payload_stays_under_teams_limit(make_incident: Callable[..., Incident]) -> None:
    inc = make_incident(
        summary="x" * 50_000,
        root_cause=[{"summary": "y" * 5_000} for _ in range(40)],
        impact=Impact(tables=tuple("t" * 3000 + str(i) for i in range(40))),
    )
    body = json.dumps(render_teams(build_message(inc, url=URL))).encode()
    assert len(body) <= MAX_PAYLOAD_BYTES


def test_markdown_escape_leaves_plain_text() -> None:
    assert markdown_escape("raw.orders status") == "raw.orders status"

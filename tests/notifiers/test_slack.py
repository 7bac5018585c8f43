from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tidegauge.core.model import Impact, Incident, IncidentStatus
from tidegauge.notifiers.base import load_notifier
from tidegauge.notifiers.config import SlackChannel
from tidegauge.notifiers.messages import Divider, Text, build_message
from tidegauge.notifiers.slack import render_slack, slack_escape

from .conftest import NASTY
from .servers import HttpRecorder

URL = "https://tidegauge.example/incidents/42"
KNOWN_BLOCKS = {"header", "section", "divider", "context"}


def _all_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] for e in block.get("elements", [])]
    return texts


def check_block_kit(payload: dict[str, Any]) -> None:
    """Slack's documented limits for a message's blocks."""
    assert isinstance(payload["text"], str) and payload["text"]
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= 50
    for block in blocks:
        assert block["type"] in KNOWN_BLOCKS
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] == "mrkdwn"
                assert 0 < len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(len(f["text"]) <= 2000 for f in fields)


def test_sends_block_kit_to_the_webhook(
    recorder: HttpRecorder, make_incident: Callable[..., Incident]
) -> None:
    config = SlackChannel(name="data", url=recorder.url("/services/T1/B2/abc"))
    msg = build_message(make_incident(), url=URL)
    with load_notifier(config) as notifier:
        result = notifier.send(msg, dedup_key="incident-42", action="trigger")
    assert result.status_code == 200 and result.channel == "data"
    req = recorder.last
    assert req.method == "POST" and req.path == "/services/T1/B2/abc"
    assert req.headers["content-type"].startswith("application/json")
    payload = req.json()
    check_block_kit(payload)
    assert payload["blocks"][0]["type"] == "header"
    assert payload["text"].startswith(":large_orange_circle: [HIGH]")
    flat = json.dumps(payload)
    assert f"<{URL}|Open incident in tidegauge>" in flat
    assert "marts.fct_revenue" in flat and "Revenue dashboard" in flat
    assert "2024-05-01 06:00 UTC" in flat


def test_escapes_user_content(make_incident: Callable[..., Incident]) -> None:
    inc = make_incident(
        title=f"Volume drop on {NASTY}",
        summary="a & b <!channel> <https://evil.example|click>",
        impact=Impact(tables=(NASTY,), owners=("<@U123>",)),
    )
    payload = render_slack(build_message(inc, url=URL))
    check_block_kit(payload)
    for text in _all_texts(payload):
        assert "<script>" not in text and "<!channel>" not in text and "<@U123>" not in text
        assert "<https://evil" not in text
    flat = json.dumps(payload)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in flat
    assert "a &amp; b &lt;!channel&gt;" in flat


def test_resolve_is_marked(make_incident: Callable[..., Incident]) -> None:
    msg = build_message(make_incident(status=IncidentStatus.FIXED), url=URL, action="resolve")
    payload = render_slack(msg)
    assert payload["text"].startswith(":white_check_mark: [RESOLVED]")


def test_limits_hold_for_huge_messages(make_incident: Callable[..., Incident]) -> None:
    inc = make_incident(title="T" * 400, summary="&" * 5000)
    msg = build_message(inc, url=URL)
    # Pad the message far past 50 blocks.
    msg = replace(
        msg, blocks=msg.blocks + tuple(Text(f"extra {i}") for i in range(60)) + (Divider(),)
    )
    payload = render_slack(msg)
    check_block_kit(payload)
    assert payload["blocks"][-1]["type"] == "context"
    header = payload["blocks"][0]["text"]["text"]
    assert header.endswith("…") and len(header) == 150
    summary = payload["blocks"][1]["text"]["text"]
    assert summary.endswith("&amp;…")  # never a half entity like "&am…"


def test_slack_escape_only_three_characters() -> None:
    assert slack_escape('it\'s "fine" & <ok>') == 'it\'s "fine" &amp; &lt;ok&gt;'

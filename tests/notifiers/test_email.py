from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tidegauge.core.model import Incident, IncidentStatus
from tidegauge.notifiers.base import PermanentDeliveryError, RetryableDeliveryError, load_notifier
from tidegauge.notifiers.config import EmailChannel
from tidegauge.notifiers.email import message_id
from tidegauge.notifiers.messages import build_message

from .conftest import NASTY
from .servers import SmtpServer, free_port

URL = "https://tidegauge.example/incidents/42"


def _channel(port: int, **extra: object) -> EmailChannel:
    return EmailChannel.model_validate(
        {
            "name": "mail",
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "from": "tidegauge@example.com",
            "to": ["oncall@example.com", "data@example.com"],
            "timeout_seconds": 3,
            **extra,
        }
    )


def test_multipart_text_and_escaped_html(
    smtp_server: SmtpServer, make_incident: Callable[..., Incident]
) -> None:
    inc = make_incident(title=f"Volume drop on {NASTY}\r\nBcc: victim@example.com")
    with load_notifier(_channel(smtp_server.port)) as notifier:
        result = notifier.send(
            build_message(inc, url=URL), dedup_key="incident-42", action="trigger"
        )
    [received] = smtp_server.messages
    assert received.mail_from == "tidegauge@example.com"
    assert received.rcpt_tos == ["oncall@example.com", "data@example.com"]
    email = received.message
    assert email.get_content_type() == "multipart/alternative"
    subject = " ".join(str(email["Subject"]).split())
    assert subject.startswith("[HIGH] Volume drop on <script>")
    assert email["Bcc"] is None  # no header injection through the title
    headers = received.raw.split(b"\r\n\r\n")[0]
    assert b"\nBcc:" not in headers
    assert email["Message-ID"] == message_id("incident-42:trigger") == result.remote_id
    text_part = email.get_body(preferencelist=("plain",))
    html_part = email.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    assert "Revenue dashboard" in text and URL in text and "2024-05-01 06:00 UTC" in text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f'<a href="{URL}">Open incident in tidegauge</a>' in html
    assert "<li>marts.fct_revenue</li>" in html


def test_resolve_threads_under_the_trigger(
    smtp_server: SmtpServer, make_incident: Callable[..., Incident]
) -> None:
    inc = make_incident(status=IncidentStatus.FIXED)
    with load_notifier(_channel(smtp_server.port)) as notifier:
        notifier.send(
            build_message(inc, url=URL, action="resolve"), dedup_key="incident-42", action="resolve"
        )
    email = smtp_server.messages[0].message
    assert str(email["Subject"]).strip().startswith("[RESOLVED]")
    assert email["In-Reply-To"] == message_id("incident-42:trigger")


@pytest.fixture
def smtp_with_auth() -> Iterator[SmtpServer]:
    server = SmtpServer(users={"tg": "pa55word"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_login(smtp_with_auth: SmtpServer, make_incident: Callable[..., Incident]) -> None:
    msg = build_message(make_incident(), url=URL)
    good = _channel(smtp_with_auth.port, username="tg", password="pa55word")
    with load_notifier(good) as notifier:
        notifier.send(msg, dedup_key="k", action="trigger")
    assert len(smtp_with_auth.messages) == 1
    bad = _channel(smtp_with_auth.port, username="tg", password="wrong-pa55word")
    with load_notifier(bad) as notifier, pytest.raises(PermanentDeliveryError) as info:
        notifier.send(msg, dedup_key="k", action="trigger")
    assert "535" in str(info.value) and "wrong-pa55word" not in str(info.value)


def test_recipient_errors(smtp_server: SmtpServer, make_incident: Callable[..., Incident]) -> None:
    msg = build_message(make_incident(), url=URL)
    rejected = _channel(smtp_server.port, to=["reject@example.com"])
    with load_notifier(rejected) as notifier, pytest.raises(PermanentDeliveryError, match="550"):
        notifier.send(msg, dedup_key="k", action="trigger")
    busy = _channel(smtp_server.port, to=["busy@example.com"])
    with load_notifier(busy) as notifier, pytest.raises(RetryableDeliveryError, match="451"):
        notifier.send(msg, dedup_key="k", action="trigger")
    partly = _channel(smtp_server.port, to=["reject@example.com", "ok@example.com"])
    with load_notifier(partly) as notifier:
        result = notifier.send(msg, dedup_key="k", action="trigger")
    assert result.detail == "refused 1 of 2 recipient(s)"
    assert smtp_server.messages[-1].rcpt_tos == ["ok@example.com"]


def test_no_server_is_retryable(make_incident: Callable[..., Incident]) -> None:
    with load_notifier(_channel(free_port())) as notifier, pytest.raises(RetryableDeliveryError):
        notifier.send(build_message(make_incident(), url=URL), dedup_key="k", action="trigger")


def test_starttls_required_but_missing_is_permanent(
    smtp_server: SmtpServer, make_incident: Callable[..., Incident]
) -> None:
    config = _channel(smtp_server.port, starttls=True)
    with load_notifier(config) as notifier, pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        notifier.send(build_message(make_incident(), url=URL), dedup_key="k", action="trigger")
    assert smtp_server.messages == []

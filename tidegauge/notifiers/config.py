"""Channel and route configuration: one pydantic model per channel ``type:``.

Secrets (webhook URLs, routing keys, API keys, passwords, signing secrets, header values) are
``SecretStr`` so that neither ``repr`` nor logs show them, and every model hides the input in
validation errors, so a malformed secret URL is reported by field name only.

>>> from pydantic import TypeAdapter
>>> ch = TypeAdapter(Channel).validate_python(
...     {"name": "hooks", "type": "webhook", "url": "http://127.0.0.1:9000/hook"})
>>> ch.type, ch.url
('webhook', SecretStr('**********'))
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)

from tidegauge.core.model import AlertKind, Severity
from tidegauge.core.units import parse_duration

__all__ = [
    "Channel",
    "ChannelBase",
    "EmailChannel",
    "NotificationsConfig",
    "OpsgenieChannel",
    "OpsgenieResponder",
    "PagerDutyChannel",
    "QuietHours",
    "RouteConfig",
    "RouteMatch",
    "SlackChannel",
    "TeamsChannel",
    "WebhookChannel",
    "check_references",
    "parse_duration",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
OPSGENIE_API_URL = "https://api.opsgenie.com"


def _check_http_url(value: str) -> str:
    """Accept only absolute http(s) URLs with a host; say why without echoing the value."""
    if not isinstance(value, str):
        raise ValueError("must be a string URL")
    value = value.strip()
    if not value or any(c.isspace() for c in value):
        raise ValueError("must be an http(s) URL without spaces")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("must name a host")
    del port
    return value


def _wrap_secret(value: Any) -> Any:
    return SecretStr(value) if isinstance(value, str) else value


def _check_secret_url(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return SecretStr(_check_http_url(value.get_secret_value()))
    return _check_http_url(value)


# A URL that is also a credential (Slack, Teams and most webhook URLs embed a token). The
# value is wrapped in SecretStr *before* it is checked, so that a validation error shows
# "**********" as its input even when the enclosing model does not hide inputs.
SecretUrl = Annotated[SecretStr, BeforeValidator(_check_secret_url), BeforeValidator(_wrap_secret)]
# A URL that is not a secret (an API endpoint), validated the same way.
HttpUrlStr = Annotated[str, BeforeValidator(_check_http_url)]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, populate_by_name=True
    )


class QuietHours(_Model):
    """A daily window (``start``..``end`` in ``tz``) when non-critical messages are held.

    The window may wrap midnight (``22:00``..``07:00``). Held messages go out at ``end``.
    """

    start: time
    end: time
    tz: str = "UTC"

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _non_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet_hours start and end must differ")
        return self

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.tz)

    def contains(self, now: datetime) -> bool:
        """Whether ``now`` (timezone-aware) falls inside the window."""
        local = _aware(now).astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, now: datetime) -> datetime:
        """The first end of the window strictly after ``now``, in the caller's time zone."""
        now = _aware(now)
        local = now.astimezone(self.zone)
        for days in (0, 1, 2):
            day = (local + timedelta(days=days)).date()
            # Build the wall-clock end in the zone, then normalise through UTC so a
            # non-existent local time (DST gap) lands on the next real instant.
            candidate = datetime.combine(day, self.end, tzinfo=self.zone)
            candidate = candidate.astimezone(now.tzinfo)
            if candidate > now:
                return candidate
        raise AssertionError("unreachable: a daily window always ends within two days")


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("routing needs timezone-aware datetimes (use tidegauge's clock)")
    return value


class ChannelBase(_Model):
    """Settings every channel has, whatever its type."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)
    min_severity: Severity | None = None
    quiet_hours: QuietHours | None = None
    max_messages_per_hour: PositiveInt | None = None
    renotify_after: Duration | None = None
    timeout_seconds: PositiveFloat = 10.0
    #: how long a failing delivery is retried (from its first try) before tidegauge gives
    #: up, records it on the incident and hands it to ``fallback``; a time, not a count of
    #: attempts, so a receiver that is down for a night still gets its messages
    retry_for: Duration = Field(default=timedelta(hours=24), gt=timedelta(0))
    #: the channel told about messages this one could not deliver within ``retry_for``
    fallback: str | None = None

    def secret_values(self) -> list[str]:
        """Every secret in this config, so that error messages and logs can redact them.

        A secret URL also contributes its path, query and long path segments: servers and
        proxies echo those back without the scheme and host.
        """
        found: list[str] = []
        for key in type(self).model_fields:
            _collect_secrets(getattr(self, key), found)
        out: list[str] = []
        for secret in found:
            if not secret:
                continue
            out.append(secret)
            if secret.startswith(("http://", "https://")):
                parts = urlsplit(secret)
                pieces = [parts.path, parts.query, *parts.path.split("/"), *parts.query.split("&")]
                if parts.password:
                    pieces.append(parts.password)
                out += [p for p in pieces if len(p) >= _MIN_SECRET_PIECE]
        return list(dict.fromkeys(out))


# Shorter URL pieces ("/", "v1", "hooks") are not secret and redacting them would mangle text.
_MIN_SECRET_PIECE = 8


def _collect_secrets(value: Any, into: list[str]) -> None:
    if isinstance(value, SecretStr):
        into.append(value.get_secret_value())
    elif isinstance(value, dict):
        for item in value.values():
            _collect_secrets(item, into)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_secrets(item, into)


class SlackChannel(ChannelBase):
    """Slack incoming webhook (``https://hooks.slack.com/services/...``)."""

    type: Literal["slack"] = "slack"
    url: SecretUrl


class TeamsChannel(ChannelBase):
    """Microsoft Teams webhook (Workflows or legacy connector) taking an Adaptive Card."""

    type: Literal["teams"] = "teams"
    url: SecretUrl


class PagerDutyChannel(ChannelBase):
    """PagerDuty Events API v2 integration."""

    type: Literal["pagerduty"] = "pagerduty"
    routing_key: SecretStr = Field(min_length=1)
    events_url: HttpUrlStr = PAGERDUTY_EVENTS_URL


class OpsgenieResponder(_Model):
    """``{type: team, name: data-eng}``; users are named by ``username``."""

    type: Literal["team", "user", "escalation", "schedule"]
    name: str | None = None
    id: str | None = None
    username: str | None = None

    @model_validator(mode="after")
    def _one_identifier(self) -> OpsgenieResponder:
        given = [v for v in (self.name, self.id, self.username) if v]
        if len(given) != 1:
            raise ValueError("a responder needs exactly one of name, id or username")
        if self.username and self.type != "user":
            raise ValueError("username only identifies responders of type user")
        return self

    def as_payload(self) -> dict[str, str]:
        out: dict[str, str] = {"type": self.type}
        for key in ("name", "id", "username"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


class OpsgenieChannel(ChannelBase):
    """Opsgenie Alert API (``api.eu.opsgenie.com`` for EU accounts)."""

    type: Literal["opsgenie"] = "opsgenie"
    api_key: SecretStr = Field(min_length=1)
    api_url: HttpUrlStr = OPSGENIE_API_URL
    responders: list[OpsgenieResponder] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=20)


_EMAIL = re.compile(r"^[^@\s<>\",;]+@[^@\s<>\",;]+\.[^@\s<>\",;]+$")


def _check_address(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("is not an email address")
    return value


EmailAddress = Annotated[str, BeforeValidator(lambda v: _check_address(str(v).strip()))]


class EmailChannel(ChannelBase):
    """SMTP with text and HTML parts. ``ssl`` is SMTPS (port 465); else STARTTLS if set."""

    type: Literal["email"] = "email"
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    ssl: bool = False
    sender: EmailAddress = Field(alias="from")
    to: list[EmailAddress] = Field(min_length=1)

    @model_validator(mode="after")
    def _tls_modes(self) -> EmailChannel:
        if self.ssl and self.starttls and "starttls" in self.model_fields_set:
            raise ValueError("choose one of ssl (SMTPS) or starttls, not both")
        if self.password is not None and not self.username:
            raise ValueError("password given without username")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.ssl else 587


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
RESERVED_WEBHOOK_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "idempotency-key",
        "x-tidegauge-signature",
        "x-tidegauge-timestamp",
        "x-tidegauge-event",
    }
)


class WebhookChannel(ChannelBase):
    """A generic JSON webhook, signed with HMAC-SHA256 when ``secret`` is set."""

    type: Literal["webhook"] = "webhook"
    url: SecretUrl
    secret: SecretStr | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, header_value in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
            if name.lower() in RESERVED_WEBHOOK_HEADERS:
                raise ValueError(f"header {name!r} is set by tidegauge and cannot be overridden")
            if any(c in header_value.get_secret_value() for c in "\r\n"):
                raise ValueError(f"header {name!r} contains a line break")
        return value


Channel = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads best spelled out
        SlackChannel,
        TeamsChannel,
        PagerDutyChannel,
        OpsgenieChannel,
        EmailChannel,
        WebhookChannel,
    ],
    Field(discriminator="type"),
]


class RouteMatch(_Model):
    """Conditions of one route; all given conditions must hold, an empty match matches all.

    Each condition takes one value or a list (any of). ``schema`` and ``table`` are globs
    (``raw*``); ``table`` matches the table name, or ``schema.table`` when it has a dot.
    """

    owner: Annotated[list[str], BeforeValidator(_as_list)] | None = None
    tag: Annotated[list[str], BeforeValidator(_as_list)] | None = None
    schema_: Annotated[list[str], BeforeValidator(_as_list)] | None = Field(
        default=None, alias="schema"
    )
    table: Annotated[list[str], BeforeValidator(_as_list)] | None = None
    kind: Annotated[list[AlertKind], BeforeValidator(_as_list)] | None = None
    severity: Annotated[list[Severity], BeforeValidator(_as_list)] | None = None

    def describe(self) -> str:
        parts = []
        for key, value in self.model_dump(by_alias=True, exclude_none=True).items():
            shown = ",".join(str(v) for v in value)
            parts.append(f"{key}={shown}")
        return " ".join(parts) or "everything"


def glob_match(patterns: list[str], value: str) -> bool:
    """Case-insensitive glob match of ``value`` against any pattern."""
    return any(fnmatchcase(value.lower(), p.lower()) for p in patterns)


class RouteConfig(_Model):
    """Send incidents matching ``match`` to ``channels``. Every matching route applies."""

    match: RouteMatch = Field(default_factory=RouteMatch)
    channels: Annotated[list[str], BeforeValidator(_as_list)] = Field(min_length=1)


def check_references(
    channels: list[Any], routes: list[RouteConfig], default_channel: str | None
) -> None:
    """Raise ``ValueError`` on duplicate channel names or routes naming unknown channels.

    Call it from the project config's model validator.
    """
    names = [c.name for c in channels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate channel names: {', '.join(duplicates)}")
    known = set(names)
    for i, route in enumerate(routes):
        unknown = [c for c in route.channels if c not in known]
        if unknown:
            raise ValueError(f"routes[{i}] names unknown channels: {', '.join(unknown)}")
    for ch in channels:
        fallback = getattr(ch, "fallback", None)
        if fallback is not None and (fallback not in known or fallback == ch.name):
            raise ValueError(
                f"channel {ch.name!r}: fallback {fallback!r} must name another configured channel"
            )
    if default_channel is not None and default_channel not in known:
        raise ValueError(f"default_channel {default_channel!r} is not a configured channel")


class NotificationsConfig(_Model):
    """The notification part of a project file: channels, routes and the fallback channel."""

    channels: list[Channel] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    default_channel: str | None = None

    @model_validator(mode="after")
    def _references(self) -> NotificationsConfig:
        check_references(list(self.channels), self.routes, self.default_channel)
        return self

    def channel(self, name: str) -> ChannelBase:
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(name)

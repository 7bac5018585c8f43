"""The neutral message: what every notifier renders, built once from an incident.

A :class:`Message` is plain data (title, severity, status, summary and typed blocks) with no
markup at all: every string in it is raw user-visible text, and each renderer escapes it for
its own format. It round-trips through JSON (:meth:`Message.to_dict` /
:meth:`Message.from_dict`) so that the outbox can persist exactly what will be sent.

>>> from datetime import datetime, timezone
>>> from tidegauge.core.model import AlertKind, Incident, TableRef
>>> when = datetime(2024, 5, 1, 6, tzinfo=timezone.utc)
>>> inc = Incident(AlertKind.VOLUME, TableRef("main", "raw", "orders"), "Row count dropped",
...                when, when, id=7)
>>> msg = build_message(inc, url="https://tg.example/incidents/7", action="trigger")
>>> msg.title
'[MEDIUM] Row count dropped'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tidegauge.core.model import Incident, IncidentStatus, Severity
from tidegauge.core.units import duration, number, percent

__all__ = [
    "Action",
    "Block",
    "BulletList",
    "Divider",
    "Fields",
    "Heading",
    "Link",
    "Message",
    "Text",
    "build_digest",
    "build_message",
    "format_number",
    "format_time",
]

Action = Literal["trigger", "resolve"]

# How many items a list block shows before "and N more": keeps every rendering well under
# Slack's 50 blocks / 3,000 characters per text and Teams' ~28 KB card limit.
MAX_LIST_ITEMS = 10


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    kind: Literal["heading"] = "heading"


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class Fields:
    """Label/value pairs, rendered as a two-column grid or a fact set."""

    items: tuple[tuple[str, str], ...]
    kind: Literal["fields"] = "fields"


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str
    kind: Literal["link"] = "link"


@dataclass(frozen=True, slots=True)
class BulletList:
    items: tuple[str, ...]
    title: str = ""
    more: int = 0  # items left out, rendered as "and N more"
    kind: Literal["list"] = "list"


@dataclass(frozen=True, slots=True)
class Divider:
    kind: Literal["divider"] = "divider"


Block = Heading | Text | Fields | Link | BulletList | Divider


@dataclass(frozen=True, slots=True)
class Message:
    """One notification, independent of where it goes."""

    title: str
    severity: Severity
    status: IncidentStatus
    action: Action
    summary: str
    url: str
    blocks: tuple[Block, ...] = ()
    incident_id: int | None = None
    kind: str = ""
    source: str = "tidegauge"  # the warehouse, for PagerDuty's "source"
    component: str = ""  # the table, for PagerDuty's "component" / Opsgenie's "entity"
    group: str = ""  # the schema
    timestamp: datetime | None = None
    tags: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)  # machine-readable facts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (also the ``message`` of the generic webhook body)."""
        out = asdict(self)
        out["severity"] = self.severity.value
        out["status"] = self.status.value
        out["timestamp"] = self.timestamp.isoformat() if self.timestamp else None
        out["blocks"] = [_block_dict(b) for b in self.blocks]
        out["tags"] = list(self.tags)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        blocks = tuple(_block_from_dict(b) for b in data.get("blocks", ()))
        ts = data.get("timestamp")
        return cls(
            title=data["title"],
            severity=Severity(data["severity"]),
            status=IncidentStatus(data["status"]),
            action=data["action"],
            summary=data.get("summary", ""),
            url=data.get("url", ""),
            blocks=blocks,
            incident_id=data.get("incident_id"),
            kind=data.get("kind", ""),
            source=data.get("source", "tidegauge"),
            component=data.get("component", ""),
            group=data.get("group", ""),
            timestamp=datetime.fromisoformat(ts) if ts else None,
            tags=tuple(data.get("tags", ())),
            details=dict(data.get("details", {})),
        )

    def plain_text(self) -> str:
        """A readable plain-text rendering (email text part, fallbacks)."""
        lines: list[str] = [self.title, ""]
        for block in self.blocks:
            if isinstance(block, Heading):
                if block.text == self.title:
                    continue
                lines += ["", block.text, "-" * min(len(block.text), 60)]
            elif isinstance(block, Text):
                lines.append(block.text)
            elif isinstance(block, Fields):
                lines += [f"{label}: {value}" for label, value in block.items]
            elif isinstance(block, Link):
                lines.append(f"{block.label}: {block.url}")
            elif isinstance(block, BulletList):
                if block.title:
                    lines.append(block.title)
                lines += [f"  - {item}" for item in block.items]
                if block.more:
                    lines.append(f"  ... and {block.more} more")
            else:
                lines.append("")
        return "\n".join(lines).strip() + "\n"


def _block_dict(block: Block) -> dict[str, Any]:
    data = asdict(block)
    if isinstance(block, Fields):
        data["items"] = [list(pair) for pair in block.items]
    elif isinstance(block, BulletList):
        data["items"] = list(block.items)
    return data


def _block_from_dict(data: dict[str, Any]) -> Block:
    kind = data.get("kind")
    if kind == "heading":
        return Heading(data["text"])
    if kind == "text":
        return Text(data["text"])
    if kind == "fields":
        return Fields(tuple((str(a), str(b)) for a, b in data["items"]))
    if kind == "link":
        return Link(data["label"], data["url"])
    if kind == "list":
        return BulletList(tuple(data["items"]), data.get("title", ""), data.get("more", 0))
    if kind == "divider":
        return Divider()
    raise ValueError(f"unknown block kind {kind!r}")


def format_number(value: float | None) -> str:
    """Human-sized numbers (:func:`tidegauge.core.units.number`): ``1234567.0`` →
    ``1,234,567``; ``0.015342`` → ``0.0153``; never scientific notation."""
    if value is None:
        return "n/a"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return number(value)


def format_value(value: float | None, kind: str) -> str:
    """A value in the unit its alert kind measures: lateness as a duration, rates as
    percentages, counts and the rest as numbers."""
    if value is None or math.isnan(value) or math.isinf(value):
        return format_number(value)
    if kind == "freshness":
        return duration(value)
    if kind in ("null_rate", "category_new_value", "category_vanished"):
        return percent(value)
    return format_number(value)


def format_time(value: datetime | None) -> str:
    """``2024-05-01 06:00 UTC``; naive datetimes are taken as UTC (the model's convention)."""
    if value is None:
        return "n/a"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _capped(items: Iterable[str], limit: int = MAX_LIST_ITEMS) -> tuple[tuple[str, ...], int]:
    all_items = list(items)
    return tuple(all_items[:limit]), max(0, len(all_items) - limit)


def _humanize(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def _deviation(incident: Incident) -> str | None:
    obs, exp = incident.observed, incident.expected
    if obs is None or exp is None or exp == 0 or math.isnan(obs) or math.isnan(exp):
        return None
    change = (obs - exp) / abs(exp) * 100
    return f"{change:+.1f}%"


def _root_cause_line(hint: dict[str, Any]) -> str:
    """One readable line per hint, whatever keys the grouper used."""
    for key in ("summary", "explanation", "message", "title", "description"):
        text = hint.get(key)
        if isinstance(text, str) and text:
            label = hint.get("kind") or hint.get("type")
            return f"{_humanize(str(label))}: {text}" if label else text
    shown = ", ".join(f"{k}={v}" for k, v in hint.items() if v not in (None, "", [], {}))
    return shown or "(no details)"


def build_message(incident: Incident, *, url: str, action: Action = "trigger") -> Message:
    """Describe one incident: what broke, since when, expected vs observed, impact, cause, link.

    Args:
        incident: the incident (root alert plus grouped symptoms).
        url: the incident's page in the tidegauge UI.
        action: ``"trigger"`` for a new or re-notified incident, ``"resolve"`` when closed.
    """
    if action not in ("trigger", "resolve"):
        raise ValueError(f"action must be 'trigger' or 'resolve', not {action!r}")
    sev = incident.severity
    table = incident.table.fqn
    where = f"{table}.{incident.column}" if incident.column else table
    # Titles are one line everywhere (Slack headers, email subjects, PagerDuty summaries).
    headline = " ".join(incident.title.split()) or (
        f"{_humanize(incident.kind.value)} anomaly on {where}"
    )
    if action == "resolve":
        title = f"[RESOLVED] {headline}"
    else:
        title = f"[{sev.value.upper()}] {headline}"
    summary = incident.summary or headline
    if action == "resolve":
        summary = f"Resolved as {incident.status.value.replace('_', ' ')}. {summary}"

    blocks: list[Block] = [Heading(title), Text(summary)]
    facts: list[tuple[str, str]] = [
        ("Table", where),
        ("Warehouse", incident.table.warehouse),
        ("Kind", _humanize(incident.kind.value)),
        ("Severity", sev.value),
        ("Status", incident.status.value.replace("_", " ")),
        ("Since", format_time(incident.data_time)),
        ("Detected", format_time(incident.detected_at)),
        ("Owner", incident.owner or "unassigned"),
    ]
    blocks.append(Fields(tuple(facts)))

    if incident.observed is not None or incident.expected is not None:
        kind = incident.kind.value
        numbers = [
            ("Observed", format_value(incident.observed, kind)),
            ("Expected", format_value(incident.expected, kind)),
        ]
        if incident.lower is not None or incident.upper is not None:
            band = f"{format_value(incident.lower, kind)} – {format_value(incident.upper, kind)}"
            numbers.append(("Expected band", band))
        deviation = _deviation(incident)
        if deviation:
            numbers.append(("Change", deviation))
        blocks += [Heading("Expected vs observed"), Fields(tuple(numbers))]

    impact = incident.impact
    blocks.append(Heading("Impact"))
    if impact.tables or impact.exposures or impact.owners or impact.columns:
        counts = (
            f"{len(impact.tables)} downstream table(s), {len(impact.columns)} column(s), "
            f"{len(impact.exposures)} exposure(s)"
        )
        blocks.append(Text(counts))
        for label, values in (
            ("Downstream tables", impact.tables),
            ("Exposures", impact.exposures),
            ("Owners hit", impact.owners),
        ):
            if values:
                shown, more = _capped(values)
                blocks.append(BulletList(shown, label, more))
    else:
        blocks.append(Text("No known downstream tables or exposures."))

    if incident.root_cause:
        shown, more = _capped(_root_cause_line(h) for h in incident.root_cause)
        blocks += [Heading("Likely cause"), BulletList(shown, "", more)]

    blocks.append(Link("Open incident in tidegauge", url))

    details: dict[str, Any] = {
        "incident_id": incident.id,
        "table": incident.table.key,
        "column": incident.column,
        "kind": incident.kind.value,
        "severity": sev.value,
        "status": incident.status.value,
        "owner": incident.owner,
        "data_time": incident.data_time.isoformat(),
        "detected_at": incident.detected_at.isoformat(),
        "observed": _json_number(incident.observed),
        "expected": _json_number(incident.expected),
        "lower": _json_number(incident.lower),
        "upper": _json_number(incident.upper),
        "alert_ids": list(incident.alert_ids),
        "impact": impact.as_dict(),
        "root_cause": list(incident.root_cause),
        "tags": list(incident.tags),
    }
    return Message(
        title=title,
        severity=sev,
        status=incident.status,
        action=action,
        summary=summary,
        url=url,
        blocks=tuple(blocks),
        incident_id=incident.id,
        kind=incident.kind.value,
        source=incident.table.warehouse,
        component=table,
        group=incident.table.schema,
        timestamp=incident.detected_at,
        tags=tuple(incident.tags),
        details=details,
    )


def _json_number(value: float | None) -> float | None:
    """JSON has no NaN/Infinity; send null rather than an invalid document."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def build_digest(
    incidents: Sequence[Incident], url: str, *, window: str = "the last hour"
) -> Message:
    """One message standing for many, when a channel's alert budget is spent.

    Args:
        incidents: the incidents held back by the budget (most severe listed first).
        url: the incident list page; each incident links to ``{url}/{id}``.
        window: how the period is described in the text.
    """
    if not incidents:
        raise ValueError("a digest needs at least one incident")
    ordered = sorted(incidents, key=lambda i: (-i.severity.rank, i.detected_at.timestamp()))
    worst = ordered[0].severity
    n = len(ordered)
    title = f"[{worst.value.upper()}] {n} more incident(s) in {window} (alert budget reached)"
    by_severity: dict[str, int] = {}
    for inc in ordered:
        by_severity[inc.severity.value] = by_severity.get(inc.severity.value, 0) + 1
    counts = ", ".join(
        f"{by_severity[s.value]} {s.value}" for s in reversed(Severity) if s.value in by_severity
    )
    summary = (
        f"This channel's alert budget is spent, so {n} incident(s) are summarised here "
        f"instead of sent one by one: {counts}."
    )
    base = url.rstrip("/")
    lines = []
    for inc in ordered:
        where = f"{inc.table.fqn}.{inc.column}" if inc.column else inc.table.fqn
        ref = f"#{inc.id} " if inc.id is not None else ""
        lines.append(f"{ref}[{inc.severity.value}] {where}: {inc.title or inc.kind.value}")
    shown, more = _capped(lines, 20)
    blocks: list[Block] = [Heading(title), Text(summary), BulletList(shown, "Incidents", more)]
    blocks.append(Link("Open incidents in tidegauge", base))
    details = {
        "digest": True,
        "incident_ids": [i.id for i in ordered],
        "count": n,
        "by_severity": by_severity,
        "incident_urls": [f"{base}/{i.id}" for i in ordered if i.id is not None],
    }
    return Message(
        title=title,
        severity=worst,
        status=IncidentStatus.OPEN,
        action="trigger",
        summary=summary,
        url=base,
        blocks=tuple(blocks),
        kind="digest",
        component=f"{n} incidents",
        timestamp=max(i.detected_at for i in ordered),
        details=details,
    )

"""Who gets an incident, when, and why: pure functions over config and an injected ``now``.

:func:`route` returns one :class:`RoutingDecision` per configured channel, in config order,
each saying what to do (send now, hold until quiet hours end, fold into a digest, or skip)
and why, so that "why didn't my channel get it?" has an answer in the incident timeline.

Rules, in order, per channel:

1. **Routing.** Without routes every incident goes to every channel. With routes, a channel
   is chosen when any route naming it matches (every matching route applies). If no route
   matches, the incident goes to ``default_channel`` (logged as a warning); with no default
   it goes nowhere (also logged).
2. **Severity floor.** Below the channel's ``min_severity``: skip.
3. **Quiet hours.** Inside the window, non-critical incidents are held until it ends.
4. **Alert budget.** With ``max_messages_per_hour`` reached (``sent_last_hour`` comes from the
   outbox), the incident goes into the channel's next digest instead.

Resolves should follow the trigger: send them to the channels that got the trigger rather
than routing again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tidegauge.core.model import Incident, Severity
from tidegauge.notifiers.config import ChannelBase, RouteConfig, RouteMatch, glob_match

__all__ = [
    "Disposition",
    "RoutingDecision",
    "matching_routes",
    "route",
    "route_matches",
    "should_renotify",
]

log = logging.getLogger("tidegauge.notifiers.routing")


class Disposition(StrEnum):
    SEND = "send"
    HOLD = "hold"  # quiet hours: send at hold_until
    DIGEST = "digest"  # budget spent: include in the channel's next digest
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """What to do with one incident for one channel, and why."""

    channel: str
    disposition: Disposition
    reason: str
    rules: tuple[int, ...] = ()  # indexes of the routes that matched
    fallback: bool = False  # chosen as default_channel because no route matched
    hold_until: datetime | None = None

    @property
    def send_now(self) -> bool:
        return self.disposition is Disposition.SEND


def route_matches(match: RouteMatch, incident: Incident) -> bool:
    """Whether all of the route's conditions hold for the incident."""
    if match.owner is not None and not (incident.owner and glob_match(match.owner, incident.owner)):
        return False
    if match.tag is not None and not any(glob_match(match.tag, t) for t in incident.tags):
        return False
    if match.schema_ is not None and not glob_match(match.schema_, incident.table.schema):
        return False
    if match.table is not None:
        table = incident.table
        if not any(glob_match([p], table.fqn if "." in p else table.name) for p in match.table):
            return False
    if match.kind is not None and incident.kind not in match.kind:
        return False
    return match.severity is None or incident.severity in match.severity


def matching_routes(incident: Incident, routes: Sequence[RouteConfig]) -> list[int]:
    return [i for i, r in enumerate(routes) if route_matches(r.match, incident)]


def route(
    incident: Incident,
    routes: Sequence[RouteConfig],
    channels: Sequence[ChannelBase],
    *,
    now: datetime,
    default_channel: str | None = None,
    sent_last_hour: Mapping[str, int] | None = None,
) -> list[RoutingDecision]:
    """Decide, for every channel, what happens to ``incident`` at ``now``.

    Args:
        incident: the incident to notify about.
        routes: the project's routes (may be empty: then every channel is chosen).
        channels: the configured channels.
        now: timezone-aware current time (tidegauge's clock).
        default_channel: where incidents no route matches go.
        sent_last_hour: messages each channel has been sent in the hour before ``now``.
    """
    if now.tzinfo is None:
        raise ValueError("route() needs a timezone-aware now")
    sent = sent_last_hour or {}
    chosen: dict[str, tuple[int, ...]] = {}
    fallback = False
    if not routes:
        chosen = {c.name: () for c in channels}
    else:
        for i in matching_routes(incident, routes):
            for name in routes[i].channels:
                chosen[name] = (*chosen.get(name, ()), i)
        if not chosen:
            who = f"owner {incident.owner!r}" if incident.owner else "no owner"
            if default_channel is not None:
                log.warning(
                    "no route matches incident %s on %s (%s); using default channel %r",
                    incident.id,
                    incident.table.fqn,
                    who,
                    default_channel,
                )
                chosen = {default_channel: ()}
                fallback = True
            else:
                log.warning(
                    "no route matches incident %s on %s (%s) and no default_channel is set; "
                    "nobody is notified",
                    incident.id,
                    incident.table.fqn,
                    who,
                )

    known = {c.name for c in channels}
    for name in chosen:
        if name not in known:
            log.error("route names unknown channel %r; skipped", name)

    decisions: list[RoutingDecision] = []
    for channel in channels:
        if channel.name not in chosen:
            reason = (
                "no route matched and this is not the default channel" if routes else "not routed"
            )
            decisions.append(RoutingDecision(channel.name, Disposition.SKIP, reason))
            continue
        rules = chosen[channel.name]
        if fallback:
            why = "no route matched; default channel"
        elif rules:
            why = "; ".join(f"route {i} ({routes[i].match.describe()})" for i in rules)
        else:
            why = "no routes configured: every channel gets every incident"
        decisions.append(_apply_channel_policy(incident, channel, why, rules, fallback, now, sent))
    return decisions


def _apply_channel_policy(
    incident: Incident,
    channel: ChannelBase,
    why: str,
    rules: tuple[int, ...],
    fallback: bool,
    now: datetime,
    sent: Mapping[str, int],
) -> RoutingDecision:
    floor = channel.min_severity
    if floor is not None and incident.severity.rank < floor.rank:
        return RoutingDecision(
            channel.name,
            Disposition.SKIP,
            f"{why}; severity {incident.severity.value} is below the channel floor {floor.value}",
            rules,
            fallback,
        )
    quiet = channel.quiet_hours
    if quiet is not None and incident.severity is not Severity.CRITICAL and quiet.contains(now):
        until = quiet.ends_after(now)
        return RoutingDecision(
            channel.name,
            Disposition.HOLD,
            f"{why}; quiet hours {quiet.start:%H:%M}-{quiet.end:%H:%M} {quiet.tz}, "
            f"held until {until.isoformat()}",
            rules,
            fallback,
            hold_until=until,
        )
    budget = channel.max_messages_per_hour
    count = sent.get(channel.name, 0)
    if budget is not None and count >= budget:
        return RoutingDecision(
            channel.name,
            Disposition.DIGEST,
            f"{why}; alert budget spent ({count} of {budget} messages in the last hour), "
            "goes into the next digest",
            rules,
            fallback,
        )
    return RoutingDecision(channel.name, Disposition.SEND, why, rules, fallback)


def should_renotify(last_sent_at: datetime | None, now: datetime, policy: timedelta | None) -> bool:
    """Whether a still-open incident is due another message on a channel.

    Never sent → yes. No re-notify policy → no. Otherwise once ``policy`` has passed.
    """
    if last_sent_at is None:
        return True
    if policy is None:
        return False
    return now - last_sent_at >= policy

"""The banner every page shows while notifications have given up: deliveries that still
failed when their channel's ``retry_for`` ran out (``tidegauge outbox --failed``).

A giving-up is recorded on its incident's timeline, but nobody reads a timeline they were
never told about; the banner names the incidents whose message did not get through, links
to them, and says how to send again. One small query per page; shown only to someone who may
read the store (not on the sign-in page of a server with tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import pass_context

from tidegauge.store.outbox import failed_deliveries

#: incidents the banner links by number; more are counted and listed on /incidents
MAX_LINKED = 5


@dataclass(frozen=True)
class Undelivered:
    deliveries: int
    incidents: list[int]  # the first MAX_LINKED, oldest first
    more_incidents: int
    channels: list[str]


def undelivered(store: Any) -> Undelivered | None:
    """What has given up, or None when every notification got through (or is still trying)."""
    found = failed_deliveries(store.engine)
    if found is None:
        return None
    deliveries, incidents, channels = found
    return Undelivered(
        deliveries=deliveries,
        incidents=incidents[:MAX_LINKED],
        more_incidents=max(0, len(incidents) - MAX_LINKED),
        channels=channels,
    )


@pass_context
def banner(ctx: Any) -> Undelivered | None:
    """The banner's content for the page being rendered (a Jinja global)."""
    if ctx.get("auth") and not ctx.get("principal"):
        return None
    request = ctx.get("request")
    store = getattr(getattr(getattr(request, "app", None), "state", None), "store", None)
    return None if store is None else undelivered(store)

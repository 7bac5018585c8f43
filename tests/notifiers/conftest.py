from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tidegauge.core.model import (
    AlertKind,
    Impact,
    Incident,
    IncidentStatus,
    Severity,
    TableRef,
)

from .servers import SmtpServer

NASTY = "<script>alert(1)</script>"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


def _incident(**overrides: Any) -> Incident:
    base: dict[str, Any] = {
        "kind": AlertKind.CATEGORY_NEW_VALUE,
        "table": TableRef("main", "raw", "orders"),
        "title": "New value 'refunded_partial' in raw.orders.status",
        "data_time": datetime(2024, 5, 1, 6, 0, tzinfo=UTC),
        "detected_at": datetime(2024, 5, 1, 7, 5, tzinfo=UTC),
        "status": IncidentStatus.OPEN,
        "severity": Severity.HIGH,
        "column": "status",
        "summary": "New value `refunded_partial` appeared in raw.orders.status: 15% of rows.",
        "owner": "team-payments",
        "alert_ids": [11, 12, 13],
        "impact": Impact(
            tables=("stg.orders", "marts.fct_orders", "marts.fct_revenue"),
            columns=("stg.orders.status",),
            exposures=("Revenue dashboard", "Finance weekly"),
            owners=("team-payments", "team-finance"),
        ),
        "root_cause": [
            {"kind": "upstream_schema_change", "summary": "raw.orders.status type changed"},
            {"kind": "segment", "column": "status", "value": "refunded_partial", "share": 0.15},
        ],
        "observed": 0.15,
        "expected": 0.0,
        "lower": 0.0,
        "upper": 0.001,
        "tags": ("finance", "pii"),
        "id": 42,
    }
    base.update(overrides)
    return Incident(**base)


@pytest.fixture
def make_incident() -> Callable[..., Incident]:
    return _incident

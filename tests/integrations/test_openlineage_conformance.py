"""Every event tidegauge emits conforms to the OpenLineage spec's own JSON schemas.

The schemas are vendored test data (tests/fixtures/openlineage_spec); the events are built by
the same code the run's emit step calls, and, in ``tests/steps/test_emit.py``, captured off the
wire from a real run.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

import pytest

from tests.fixtures.openlineage_spec import spec_errors
from tidegauge.integrations import openlineage_naming as naming
from tidegauge.integrations.openlineage import (
    Assertion,
    ColumnMetrics,
    DatasetQuality,
    build_quality_event,
)


def _event(**kwargs: object) -> dict:  # type: ignore[type-arg]
    ns, name = naming.postgres("db.internal", 5432, "shop", "public", "orders")
    return build_quality_event(
        [
            DatasetQuality(
                ns,
                name,
                row_count=1000,
                bytes=65536,
                columns={
                    "amount": ColumnMetrics(
                        null_count=3,
                        distinct_count=870,
                        min=0.5,
                        max=999.0,
                        quantiles={"0.5": 20.0},
                    ),
                    "status": ColumnMetrics(null_count=0, distinct_count=4),
                },
                assertions=[
                    Assertion(
                        "not_null",
                        False,
                        column="amount",
                        severity="error",
                        name="null_rate",
                        expected="0",
                        actual="3",
                    ),
                    Assertion("row_count", False),
                ],
            ),
            DatasetQuality(*naming.duckdb("/data/w.duckdb", "raw", "users")),  # nothing measured
        ],
        run_id=str(uuid.uuid4()),
        event_time=datetime(2024, 5, 1, 12, tzinfo=UTC),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("event_type", ["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"])
def test_quality_events_conform(event_type: str) -> None:
    assert spec_errors(_event(event_type=event_type)) == []


def test_the_check_catches_what_breaks_the_spec() -> None:
    """The validator itself is not a rubber stamp."""
    good = _event()
    bad = copy.deepcopy(good)
    del bad["run"]["runId"]
    assert any("runId" in e for e in spec_errors(bad))
    bad = copy.deepcopy(good)
    bad["inputs"][0]["inputFacets"]["dataQualityMetrics"]["rowCount"] = 1.5
    assert any("dataQualityMetrics" in e for e in spec_errors(bad))
    bad = copy.deepcopy(good)
    bad["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"][0]["passed"] = True
    assert any("passed" in e for e in spec_errors(bad))  # not a field of any revision
    bad = copy.deepcopy(good)
    bad["eventTime"] = "2024-05-01 12:00"
    assert any("eventTime" in e for e in spec_errors(bad))
    bad = copy.deepcopy(good)
    del bad["inputs"][0]["inputFacets"]["dataQualityMetrics"]["_producer"]
    assert spec_errors(bad)

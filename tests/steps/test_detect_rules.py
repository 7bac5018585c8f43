"""Which series are worth alerting on: identifiers and one-off codes are not."""

from datetime import UTC, datetime, timedelta

from tidegauge.core.metrics.names import identifier_like
from tidegauge.steps.detect_other import _stable_value_set

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_identifier_like_names():
    assert all(identifier_like(c) for c in ("id", "order_id", "USER_KEY", "uuid", "row_pk"))
    assert not any(identifier_like(c) for c in ("amount", "paid", "valid", "idle_minutes"))


def test_a_recurring_value_set_is_stable():
    hist = [
        (T0 + timedelta(hours=i), {"paid": 10, "placed": 3, "refunded": i % 2}) for i in range(48)
    ]
    assert _stable_value_set(hist, limit=100)


def test_one_off_codes_are_not_categories():
    hist = [(T0 + timedelta(hours=i), {f"TG-{i:04d}": 1, f"TG-{i:04d}b": 1}) for i in range(40)]
    assert not _stable_value_set(hist, limit=100)
    assert not _stable_value_set([(T0, {str(i): 1 for i in range(200)})], limit=100)

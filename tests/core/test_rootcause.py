"""Root-cause segments: blamed only when the change is concentrated in them."""

from datetime import UTC, datetime, timedelta

from tidegauge.core.rootcause import segment_that_moved

AT = datetime(2026, 3, 30, 18, tzinfo=UTC)


def weekly(usual: float, now: float) -> list[tuple[datetime, float]]:
    """Four previous weeks at ``usual`` rows for this hour, then ``now``."""
    return [(AT - timedelta(weeks=k), usual) for k in range(1, 5)] + [(AT, now)]


def test_whole_table_drop_blames_no_segment():
    # every status loses about 70% of its rows: "paid fell from 10 to 3" is no cause
    counts = {
        "status": {
            "paid": weekly(10, 3),
            "delivered": weekly(60, 18),
            "shipped": weekly(30, 9),
        },
        "currency": {"USD": weekly(100, 30)},
    }
    assert segment_that_moved(counts, AT) is None


def test_noise_in_small_segments_does_not_turn_a_whole_table_drop_into_one_segments_fault():
    # 70% of rows lost; the few coupon orders, being few, happen to lose only a quarter
    counts = {
        "coupon_code": {
            "__null__": weekly(134, 36),
            "WELCOME10": weekly(4, 4),
            "LIVE5": weekly(4, 3),
            "VIP20": weekly(4, 2),
        }
    }
    assert segment_that_moved(counts, AT) is None


def test_whole_table_stop_blames_no_segment():
    counts = {"is_featured": {"false": weekly(13, 0), "true": weekly(1, 0)}}
    assert segment_that_moved(counts, AT) is None


def test_a_drop_concentrated_in_one_segment_blames_it():
    # card payments vanish, the other methods carry on: card is the cause
    counts = {
        "method": {
            "card": weekly(60, 5),
            "paypal": weekly(20, 21),
            "apple_pay": weekly(15, 14),
        }
    }
    move = segment_that_moved(counts, AT)
    assert move is not None
    assert (move.column, move.value) == ("method", "card")
    assert move.share_of_change > move.usual_share
    assert "usually holds 63% of the rows" in move.text


def test_a_segment_that_appears_from_nothing_is_blamed():
    counts = {
        "method": {
            "__null__": [(AT - timedelta(days=k), 1.0) for k in range(1, 8)] + [(AT, 68.0)],
            "card": [(AT - timedelta(days=k), 120.0) for k in range(1, 8)] + [(AT, 60.0)],
            "paypal": [(AT - timedelta(days=k), 40.0) for k in range(1, 8)] + [(AT, 37.0)],
        }
    }
    move = segment_that_moved(counts, AT)
    assert move is not None and move.value == "__null__" and move.observed == 68

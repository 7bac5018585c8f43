"""What one poll reads is bounded: the sample rotates, lag reads one message per group."""

from __future__ import annotations

from tidegauge.streams.sample import lag_reads, plan_sample


def offsets(topics: list[str], n: int, high: int = 100) -> dict[tuple[str, int], tuple[int, int]]:
    return {(t, p): (0, high) for t in topics for p in range(n)}


def test_past_the_budget_partitions_take_turns_and_all_are_read_within_a_few_polls() -> None:
    offs = offsets(["a", "b", "c"], 12)
    seen: set[tuple[str, int]] = set()
    for turn in range(3):
        ranges, gaps, rotating = plan_sample(
            offs, per_partition=20, budget=12, messages=10_000, idle=set(),
            polls=dict.fromkeys("abc", turn), sinks={},
        )  # fmt: skip
        assert rotating and not gaps and len(ranges) == 12
        assert {t for t, _ in ranges} == {"a", "b", "c"}
        assert all(start == 80 for start, _ in ranges.values())
        seen |= set(ranges)
    assert seen == set(offs)


def test_within_the_budget_everything_is_read_and_idle_topics_are_not() -> None:
    offs = offsets(["a", "b"], 4)
    ranges, _, rotating = plan_sample(
        offs, per_partition=20, budget=100, messages=10_000, idle={"b"}, polls={}, sinks={}
    )
    assert not rotating and set(ranges) == {("a", p) for p in range(4)}


def test_more_topics_than_the_budget_take_turns_too() -> None:
    names = [f"t{i}" for i in range(10)]
    offs = offsets(names, 2)
    covered: set[str] = set()
    for turn in range(5):
        ranges, _, _ = plan_sample(
            offs, per_partition=5, budget=4, messages=1000, idle=set(),
            polls=dict.fromkeys(names, turn), sinks={},
        )  # fmt: skip
        assert len({t for t, _ in ranges}) <= 6  # about the budget, one partition each
        covered |= {t for t, _ in ranges}
    assert covered == set(names)


def test_the_message_budget_shortens_each_partitions_share() -> None:
    ranges, _, _ = plan_sample(
        offsets(["a"], 10), per_partition=200, budget=100, messages=100, idle=set(), polls={},
        sinks={},
    )  # fmt: skip
    assert {start for start, _ in ranges.values()} == {90}  # 10 each, not 200


def test_a_sink_topic_is_read_whole_since_the_previous_poll_and_a_gap_past_the_cap() -> None:
    offs = {("orders", 0): (0, 500), ("orders", 1): (0, 200_000)}
    ranges, gaps, _ = plan_sample(
        offs, per_partition=20, budget=1, messages=10, idle=set(), polls={},
        sinks={"orders": {0: 100.0, 1: 10.0}},
    )  # fmt: skip
    assert ranges[("orders", 0)][0] == 100  # every message since the previous end
    assert ranges[("orders", 1)][0] == 200_000 - 20 and gaps == {"orders"}


def test_lag_reads_one_message_per_group_and_topic_on_the_partition_furthest_behind() -> None:
    ends = {("t", 0): 100, ("t", 1): 100, ("t", 2): 100}
    committed = {"t": {"g1": {0: 90, 1: 40, 2: 100}, "g2": {0: 100, 1: 100}}}
    assert lag_reads(committed, ends, {}) == [(("t", 1), 40)]  # g2 is caught up
    # the sample already read that message: nothing to read
    assert lag_reads(committed, ends, {(("t", 1), 40): 1}) == []
    # among partitions equally behind, one the sample has is taken
    tie = {"t": {"g": {0: 50, 1: 50}}}
    assert lag_reads(tie, ends, {(("t", 1), 50): 1}) == []
    assert lag_reads(tie, ends, {}) == [(("t", 0), 50)]

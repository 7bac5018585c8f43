"""The next chunk's small tables are counted on a second connection while the collector works
through the current chunk (steps/counts.py ``CountAhead``); whatever the second connection
cannot do is counted as before, on the collector's own."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

from tidegauge.core.model import TableInfo, TableKind, TableRef
from tidegauge.steps.counts import CountAhead
from tidegauge.warehouses.base import Warehouse, WarehouseError


class Counting(Warehouse):
    """Answers each counting statement with the number in each table's name (t7 has 7 rows)."""

    DIALECT = "postgres"
    METADATA_ROW_COUNT = False

    def __init__(self, name: str, fail: str | None = None) -> None:
        self.label, self.fail = name, fail
        self.statements: list[list[str]] = []
        self.sent = threading.Condition()
        self.closed = False

    def connect(self) -> None: ...

    def close(self) -> None:
        self.closed = True

    def list_tables(self) -> list[TableInfo]:
        return []

    def _execute_sql(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]], int | None]:
        names = re.findall(r'FROM "s"\."(t\d+)"', sql)
        with self.sent:
            self.statements.append(names)
            self.sent.notify_all()
        if self.fail in names:
            raise WarehouseError(f"{self.fail} is gone")
        return [f"c{i}" for i in range(len(names))], [tuple(int(n[1:]) for n in names)], None


def _info(i: int) -> TableInfo:
    return TableInfo(ref=TableRef("w", "s", f"t{i}"), kind=TableKind.TABLE, bytes=8192)


CHUNKS = [[_info(i) for i in range(lo, lo + 3)] for lo in (0, 3, 6)]


def _counts(got: dict[str, Any]) -> dict[str, int]:
    return {key.split(".")[-1]: c.rows for key, c in got.items()}


def test_the_next_chunk_is_counted_on_the_second_connection_meanwhile() -> None:
    first, second = Counting("first"), Counting("second")
    opened: list[str] = []

    def open_second() -> Warehouse:
        opened.append(threading.current_thread().name)
        return second

    with CountAhead(first, CHUNKS, lambda i: True, lambda i: True, open_second) as ahead:
        assert _counts(ahead.counts(0, CHUNKS[0])) == {"t0": 0, "t1": 1, "t2": 2}
        # chunk 1 goes to the server while chunk 0 is collected, before anyone asks for it
        with second.sent:
            assert second.sent.wait_for(lambda: len(second.statements) == 2, timeout=30)
        assert second.statements[1] == ["t3", "t4", "t5"]
        assert _counts(ahead.counts(1, CHUNKS[1][:2])) == {"t3": 3, "t4": 4}  # t5: not due
        assert _counts(ahead.counts(2, CHUNKS[2])) == {"t6": 6, "t7": 7, "t8": 8}
    assert first.statements == []  # the collector's connection counted nothing
    assert second.statements == [["t0", "t1", "t2"], ["t3", "t4", "t5"], ["t6", "t7", "t8"]]
    assert len(opened) == 1 and opened[0].startswith("tidegauge-count")
    assert second.closed and not first.closed


def test_tables_due_only_by_schedule_or_not_small_are_counted_when_their_chunk_comes() -> None:
    first, second = Counting("first"), Counting("second")
    small = lambda info: info.ref.name != "t1"  # noqa: E731
    due_anyway = lambda info: info.ref.name != "t2"  # noqa: E731
    with CountAhead(first, CHUNKS[:1], small, due_anyway, lambda: second) as ahead:
        assert _counts(ahead.counts(0, CHUNKS[0])) == {"t0": 0, "t2": 2}
    assert second.statements == [["t0"]]
    assert first.statements == [["t2"]]


def test_without_a_second_connection_the_collector_counts_on_its_own() -> None:
    first = Counting("first")
    tries: list[int] = []

    def refused() -> Warehouse:
        tries.append(1)
        time.sleep(0.2)  # chunk 1 is submitted before this attempt fails
        raise WarehouseError("too many connections")

    with CountAhead(first, CHUNKS, lambda i: True, lambda i: True, refused) as ahead:
        for i, chunk in enumerate(CHUNKS):
            assert _counts(ahead.counts(i, chunk)) == {
                t.ref.name: int(t.ref.name[1:]) for t in chunk
            }
    assert first.statements == [[t.ref.name for t in chunk] for chunk in CHUNKS]
    assert tries == [1]  # not tried again for every chunk


def test_a_statement_that_fails_ahead_leaves_its_tables_to_the_collector() -> None:
    first, second = Counting("first"), Counting("second", fail="t4")
    with CountAhead(first, CHUNKS, lambda i: True, lambda i: True, lambda: second) as ahead:
        assert _counts(ahead.counts(0, CHUNKS[0])) == {"t0": 0, "t1": 1, "t2": 2}
        assert ahead.counts(1, CHUNKS[1]) == {}  # each is counted by its own query later
        assert _counts(ahead.counts(2, CHUNKS[2])) == {"t6": 6, "t7": 7, "t8": 8}
    assert first.statements == []  # not counted together a second time


@pytest.mark.parametrize("stop_after", [0, 1])
def test_stopping_early_waits_for_the_statement_in_flight_and_closes(stop_after: int) -> None:
    first, second = Counting("first"), Counting("second")
    with (
        pytest.raises(KeyboardInterrupt),
        CountAhead(first, CHUNKS, lambda i: True, lambda i: True, lambda: second) as ahead,
    ):
        for i in range(stop_after + 1):
            ahead.counts(i, CHUNKS[i])
        raise KeyboardInterrupt
    assert second.closed
    assert len(second.statements) <= stop_after + 2

"""Small tables' rows counted a hundred to a statement (steps/counts.py) on the engines that
count them (PostgreSQL, MariaDB): the counts are each table's own, whatever its name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engines import Engine, open_engine
from tidegauge.steps import counts
from tidegauge.steps.counts import count_rows

NAMES = ["plain", 'we"ird', "back`tick", "dot.ted", "Größe", "MixedCase", "t 1"]


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def counting(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with open_engine(request.param, tmp_path) as eng:
        yield eng


def test_each_table_gets_its_own_count(counting: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counts, "PER_QUERY", 3)  # statements of 3, 3 and 1 tables
    for i, name in enumerate(NAMES):
        counting.seed(name, {"id": "int"}, [(k,) for k in range(i * 2)])
    infos = [t for t in counting.warehouse.list_tables() if t.ref.name in NAMES]
    assert len(infos) == len(NAMES)
    got = count_rows(counting.warehouse, infos)
    assert {key: c.rows for key, c in got.items()} == {
        counting.ref(name).key: i * 2 for i, name in enumerate(NAMES)
    }
    statements = [c.sql for c in got.values() if c.sql]
    assert len(statements) == 3 and all("COUNT(*)" in s for s in statements)

"""Collection and detection run with fewer cycle-collector passes, and leave the collector as
they found it, even when the step fails."""

from __future__ import annotations

import gc

import pytest

from tidegauge.steps.collect_gc import THRESHOLD, fewer_collections


def test_inside_fewer_passes_and_everything_restored_after():
    before = gc.get_threshold()
    alive = [object() for _ in range(10)]  # noqa: F841  (alive across the step)
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], THRESHOLD)
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_when_the_step_raises():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a step failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_nested_blocks_keep_the_outer_freeze_until_it_ends():
    before = gc.get_threshold()
    with fewer_collections():
        outer = gc.get_freeze_count()
        with fewer_collections():
            assert gc.get_freeze_count() >= outer
        assert gc.get_freeze_count() >= outer > 0  # the inner block did not unfreeze the run
        assert gc.get_threshold()[0] == max(before[0], THRESHOLD)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_run_holds_the_collector_down_for_all_its_steps(tmp_path, monkeypatch):
    """Discovery, lineage and grouping allocate too: the whole run is one block."""
    from tidegauge.steps import collect_gc

    seen: list[int] = []
    real = collect_gc.fewer_collections

    def spy():
        seen.append(collect_gc._depth)
        return real()

    import tidegauge.runner as runner

    monkeypatch.setattr(runner, "fewer_collections", spy)
    import duckdb

    from tidegauge.config import load_project
    from tidegauge.core.clock import Clock
    from tidegauge.store.store import Store

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("CREATE SCHEMA s; CREATE TABLE s.t AS SELECT range AS id FROM range(3)")
    con.close()
    (tmp_path / "tidegauge.yml").write_text(
        f"warehouses: [{{type: duckdb, path: {tmp_path / 'wh.duckdb'}}}]\n"
        f'store: {{url: "sqlite:///{tmp_path / "s.db"}"}}\n'
    )
    project = load_project(tmp_path / "tidegauge.yml")
    store = Store.open(project.store_url())
    try:
        from datetime import UTC, datetime

        runner.run(project, store, Clock.fixed(datetime(2026, 3, 1, tzinfo=UTC)), notify=False)
    finally:
        store.close()
    assert seen == [0]  # entered once, from outside any other block
    assert gc.get_freeze_count() == 0


def test_blocks_that_overlap_restore_what_the_first_found():
    """Two runs in threads: the first enters, the second enters, the first leaves first."""
    before = gc.get_threshold()
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_freeze_count() > 0  # the second still holds the collector down
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0

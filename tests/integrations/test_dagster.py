"""Dagster, in process: tidegauge monitors as asset checks, a blocking breaker check that stops
a job whose input table is bad, a breaker inside an asset, and the run schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

dg = pytest.importorskip("dagster")

from dagster import AssetsDefinition  # noqa: E402

from tests.monitorkit import END, write_project  # noqa: E402
from tidegauge.config import load_project  # noqa: E402
from tidegauge.core.clock import Clock  # noqa: E402
from tidegauge.integrations.dagster import (  # noqa: E402
    TidegaugeResource,
    asset_table,
    tidegauge_asset_checks,
    tidegauge_run_job,
    tidegauge_schedule,
)
from tidegauge.runner import run  # noqa: E402
from tidegauge.sdk import BreakerTripped  # noqa: E402
from tidegauge.store.store import Store  # noqa: E402

pytestmark = pytest.mark.slow


def _monitored(
    tmp_path: Path, *, rules: bool = True, bad_status: bool = False
) -> TidegaugeResource:
    path = write_project(tmp_path, rules=rules, bad_status=bad_status)
    project = load_project(path)
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(END))
    store.close()
    return TidegaugeResource(project=str(path), now=END.isoformat())


def _job_assets(built: list[str]) -> list[AssetsDefinition]:
    @dg.asset(key=["raw", "orders"])
    def orders() -> None:
        built.append("raw.orders")

    @dg.asset(key=["analytics", "daily_orders"], deps=[orders])
    def daily_orders() -> None:
        built.append("analytics.daily_orders")

    return [orders, daily_orders]


def test_asset_key_maps_to_table() -> None:
    assert asset_table(dg.AssetKey(["wh", "raw", "orders"])) == "raw.orders"
    assert asset_table(dg.AssetKey(["orders"])) is None


def test_bad_input_table_stops_the_job(tmp_path: Path) -> None:
    tg = _monitored(tmp_path, bad_status=True)
    built: list[str] = []
    assets = _job_assets(built)
    checks = tidegauge_asset_checks(tg, assets)
    names = {c.check_key.name for c in checks if asset_table(c.check_key.asset_key) == "raw.orders"}
    assert {"orders_volume", "orders_status_ok", "orders_customer_fk", "tidegauge_breaker"} <= names
    result = dg.materialize([*assets, *checks], resources={"tidegauge": tg}, raise_on_error=False)
    assert not result.success
    assert built == ["raw.orders"]  # the downstream asset never ran
    evals = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(["raw", "orders"])
    }
    assert not evals["tidegauge_breaker"].passed
    assert not evals["orders_status_ok"].passed
    assert evals["orders_fresh"].passed


def test_good_input_table_lets_the_job_through(tmp_path: Path) -> None:
    tg = _monitored(tmp_path, rules=False)
    built: list[str] = []
    assets = _job_assets(built)
    result = dg.materialize(
        [*assets, *tidegauge_asset_checks(tg, assets)],
        resources={"tidegauge": tg},
        raise_on_error=False,
    )
    assert result.success, [e for e in result.all_events if e.is_failure]
    assert built == ["raw.orders", "analytics.daily_orders"]


def test_breaker_inside_an_asset_fails_the_step(tmp_path: Path) -> None:
    tg = _monitored(tmp_path, bad_status=True)

    @dg.asset(key=["analytics", "report"])
    def report(tidegauge: TidegaugeResource) -> None:
        tidegauge.breaker(["raw.orders"], level="warn")

    result = dg.materialize([report], resources={"tidegauge": tg}, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "BreakerTripped" in str(failure.event_specific_data)
    with pytest.raises(BreakerTripped):
        tg.breaker(["raw.orders"])


def test_schedule_runs_tidegauge(tmp_path: Path) -> None:
    path = write_project(tmp_path, rules=False)
    tg = TidegaugeResource(project=str(path), now=END.isoformat())
    schedule = tidegauge_schedule("0 * * * *")
    ctx = dg.build_schedule_context(scheduled_execution_time=END)
    requests = schedule.evaluate_tick(ctx).run_requests
    assert requests and len(requests) == 1
    outcome = tidegauge_run_job.execute_in_process(resources={"tidegauge": tg})
    assert outcome.success
    report = outcome.output_for_node("tidegauge_run_op")
    assert report["tables"] == 2 and report["points"] > 0

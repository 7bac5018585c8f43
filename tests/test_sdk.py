"""The Python SDK end to end on a real DuckDB warehouse and a real store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tidegauge
from tests.monitorkit import END, write_project


def test_public_api_is_sorted_lazy_and_complete() -> None:
    assert tidegauge.__all__ == sorted(tidegauge.__all__)
    for name in tidegauge.__all__:
        assert getattr(tidegauge, name) is not None
    assert tidegauge.Client is tidegauge.Tidegauge
    with pytest.raises(AttributeError):
        tidegauge.nope  # noqa: B018
    # importing the package loads neither pydantic models nor sqlglot
    code = "import sys, tidegauge; print('sqlglot' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


def test_monitor_classes_are_what_yaml_loads(tmp_path: Path) -> None:
    project = tidegauge.load_project(write_project(tmp_path))
    assert isinstance(project.monitors[0], tidegauge.VolumeMonitor)
    assert (
        project.monitors[0].model_dump()
        == tidegauge.VolumeMonitor(
            name="orders_volume", table="raw.orders", owner="@omar", severity="high", schedule="1h"
        ).model_dump()
    )


@pytest.mark.slow
def test_run_query_plan_apply_and_breaker_from_python(tmp_path: Path) -> None:
    with tidegauge.Tidegauge(write_project(tmp_path, bad_status=True)) as tg:
        tg.add_monitor(
            tidegauge.RuleMonitor(name="ids_unique", table="raw.orders", rule="unique", column="id")
        )
        with pytest.raises(ValueError, match="declared twice"):
            tg.add_monitor(tidegauge.VolumeMonitor(name="ids_unique", table="raw.orders"))
        report = tg.run(now=END, tables=["raw.orders"])
        assert report.tables == 1 and report.failed_tables == {}
        rules = {a["metric"] for a in tg.alerts(table="raw.orders", kind="rule")}
        assert rules == {"rule:orders_status_ok", "rule:orders_customer_fk"}  # ids are unique
        assert tg.alerts(table="raw.orders", open_only=True)
        assert tg.incidents(status="open", table="raw.orders")
        assert tg.incidents(table="raw.nowhere") == []
        assert [m.name for m in tg.monitors()][-1] == "ids_unique"

        plan = tg.plan()
        assert plan.count("create") == 5
        assert tg.apply().count("create") == 5
        assert tg.plan().empty

        with pytest.raises(tidegauge.BreakerTripped) as e:
            tg.breaker(["raw.orders"], now=END)
        assert e.value.result.tripped
        assert "orders_status_ok" in str(e.value)
        ok = tg.breaker("raw.customers", now=END)
        assert not ok.tripped and ok.checks[0].ok is True

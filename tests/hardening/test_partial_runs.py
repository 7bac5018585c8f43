"""A dbt manifest that cannot be read does not stop a run, but the run says it is partial
(status, report, exit code 3), with the file named."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.test_pipeline import build_warehouse
from tidegauge.cli.main import app

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe garbage", b"[]"])
def test_unreadable_manifest_marks_the_run_partial(tmp_path, content):
    build_warehouse(tmp_path / "w.duckdb")
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_bytes(content)
    (tmp_path / "tidegauge.yml").write_text(
        """
warehouses: [{type: duckdb, path: w.duckdb}]
store: {url: "sqlite:///state.db"}
tables: [{match: "*", field_health: false, categorical: false}]
dbt: {manifest: target/manifest.json}
"""
    )
    cfg = ["--config", str(tmp_path / "tidegauge.yml")]
    result = CliRunner().invoke(app, [*cfg, "run", "--now", "2026-03-10T12:00Z", "--json"])
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["tables"] > 0 and report["failed_tables"] == {}
    assert any("manifest.json" in p for p in report["problems"]), report
    status = CliRunner().invoke(app, [*cfg, "status", "--json"])
    assert json.loads(status.stdout)["runs"][0]["status"] == "partial"

"""A run is emitted as an OpenLineage RunEvent with data-quality facets to a real receiver."""

from datetime import timedelta

from tests.fixtures.openlineage_spec import spec_errors
from tests.notifiers.servers import HttpRecorder, Reply
from tests.test_pipeline import END, build_warehouse
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.integrations.openlineage import parse_run_event
from tidegauge.runner import run
from tidegauge.store.store import Store


def test_run_emits_quality_facets(tmp_path):
    rec = HttpRecorder().start()
    try:
        build_warehouse(tmp_path / "w.duckdb")
        (tmp_path / "tidegauge.yml").write_text(
            f"""
warehouses: [{{type: duckdb, path: w.duckdb}}]
store: {{url: "sqlite:///state.db"}}
openlineage: {{url: "http://127.0.0.1:{rec.port}"}}
"""
        )
        project = load_project(tmp_path / "tidegauge.yml")
        run(project, Store.open(project.store_url()), Clock.fixed(END))
        rec.reply(Reply(status=503))  # the lineage server down: the run still succeeds
        later = Clock.fixed(END + timedelta(hours=1))
        report = run(project, Store.open(project.store_url()), later)
        assert report.tables == 3 and report.failed_tables == {}
    finally:
        rec.stop()
    first = rec.requests[0]
    assert first.path == "/api/v1/lineage"
    event = parse_run_event(first.json())  # our own parser accepts what we send
    # OpenLineage's naming for DuckDB (what openlineage-dbt emits for dbt-duckdb): the file's
    # path as namespace, catalog.schema.table as name
    assert {(d.namespace, d.name) for d in event.inputs} == {
        (f"duckdb://{tmp_path / 'w.duckdb'}", f"w.{t}")
        for t in ("raw.orders", "raw.users", "analytics.stg_orders")
    }
    raw = first.json()
    for req in rec.requests:  # every event the runs sent conforms to the spec's schemas
        assert spec_errors(req.json()) == []
    orders = next(d for d in raw["inputs"] if d["name"] == "w.raw.orders")
    facets = orders["inputFacets"]
    assert facets["dataQualityMetrics"]["rowCount"] > 0
    assert "status" in facets["dataQualityMetrics"]["columnMetrics"]
    failed = facets["dataQualityAssertions"]["assertions"]
    assert failed and all(a["success"] is False for a in failed)

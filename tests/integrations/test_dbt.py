"""dbt artefacts from a real ``dbt build`` of the livestream fixture project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.dbtkit import BuiltProject, built_fixture_project
from tidegauge.core.lineage import EdgeKind, NodeKind
from tidegauge.integrations.dbt import DbtArtifactError, DbtProject, load_dbt_project

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return built_fixture_project(tmp_path_factory)


@pytest.fixture(scope="session")
def project(built: BuiltProject) -> DbtProject:
    return load_dbt_project(built.manifest)


def test_reads_all_four_artefacts(project: DbtProject) -> None:
    assert project.artefacts == (
        "manifest.json",
        "catalog.json",
        "run_results.json",
        "sources.json",
    )
    assert project.schema_version == 12 and project.adapter_type == "duckdb"
    assert project.project_name == "livestream"


def test_nodes_map_to_warehouse_tables_with_owners_and_tags(project: DbtProject) -> None:
    g = project.graph
    kinds = {n.id: n.kind for n in g.nodes}
    assert kinds["seed.livestream.raw_orders"] is NodeKind.SEED
    assert kinds["source.livestream.raw.payments"] is NodeKind.SOURCE
    assert kinds["exposure.livestream.seller_dashboard"] is NodeKind.EXPOSURE
    assert g.resolve("main_raw.raw_orders").id == "seed.livestream.raw_orders"
    assert g.resolve("warehouse.raw.payments").id == "source.livestream.raw.payments"
    assert g.node("model.livestream.stg_orders").owners == ("@omar",)  # meta.owner
    assert g.node("model.livestream.stg_users").owners == ("@ana",)  # config.meta.owner
    assert g.node("model.livestream.show_performance").owners == ("@sam", "@lee")
    customers = g.node("model.livestream.customers")
    assert customers.owners == ("growth@example.com",)  # the group's owner
    assert customers.group == "growth" and "pii" in customers.tags
    dash = g.node("exposure.livestream.seller_dashboard")
    assert dash.owners == ("revenue@example.com",) and dash.url
    assert g.node("source.livestream.raw.payments").owners == ("payments-eng@example.com",)
    # catalog types
    assert customers.column("order_count").data_type == "BIGINT"


def test_column_lineage_matches_the_sql(project: DbtProject) -> None:
    g = project.graph
    up = g.upstream("customers", "lifetime_value")
    assert {(h.node.id, h.column) for h in up.columns if h.direct} == {
        ("model.livestream.stg_payments", "amount"),
        ("source.livestream.raw.payments", "amount"),
    }
    # status filters customers (WHERE in a CTE): indirect
    assert ("model.livestream.stg_orders", "status", False) in {
        (h.node.id, h.column, h.direct) for h in up.columns
    }
    # the union model stitches both staging models
    act = g.upstream("marketplace_activity", "user_id", depth=1)
    assert {(h.node.id, h.column) for h in act.columns} == {
        ("model.livestream.stg_bids", "bidder_id"),
        ("model.livestream.stg_orders", "buyer_id"),
    }
    # window partition is indirect
    rank = {
        (e.source, e.source_column, e.kind)
        for e in g.upstream("show_performance", "category_rank", depth=1).column_edges
    }
    assert ("model.livestream.stg_shows", "category", EdgeKind.INDIRECT) in rank
    # the select * exclude(...) in stg_payments was expanded from the source's columns
    assert g.node("model.livestream.stg_payments").column("_loaded_at") is None


def test_impact_of_the_new_enum_value_column(project: DbtProject) -> None:
    imp = project.graph.impact("stg_orders", "status")
    assert "main.seller_revenue.gross_revenue" in imp.columns
    assert "main.marketplace_activity" not in imp.tables  # never reads status
    assert imp.exposures == ("Seller dashboard",)
    assert "revenue@example.com" in imp.owners and "@sam" in imp.owners


def test_tests_results_and_run_failures(project: DbtProject) -> None:
    by_type = {(t.test_type, t.node_id, t.column) for t in project.tests}
    assert ("relationships", "model.livestream.stg_orders", "buyer_id") in by_type
    assert ("unique", "model.livestream.customers", "customer_id") in by_type
    rel = next(t for t in project.tests if t.test_type == "relationships")
    assert rel.params == {"to": "ref('stg_users')", "field": "user_id"}
    (failed,) = project.failed_tests
    assert failed.test_type == "accepted_values" and failed.status == "fail"
    assert failed.table == "main.show_performance" and failed.column == "category"
    assert failed.failures == 1 and failed.params["values"] == ["sneakers", "trading_cards"]
    assert failed.started_at and failed.completed_at and failed.started_at <= failed.completed_at
    (event,) = project.run_events
    assert event.node_id == "model.livestream.legacy_refunds" and event.status == "error"
    assert "refund_reason" in (event.message or "")
    (fresh,) = project.source_freshness
    assert fresh.table == "raw.payments" and fresh.status == "pass"


def test_a_column_missing_upstream_is_recorded(project: DbtProject) -> None:
    err = project.lineage_errors["model.livestream.legacy_refunds"]
    assert "refund_reason" in err


def _copy_target(built: BuiltProject, dest: Path) -> Path:
    shutil.copytree(built.target_dir, dest, ignore=shutil.ignore_patterns("compiled", "run"))
    return dest / "manifest.json"


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_manifest_is_a_clear_error(
    built: BuiltProject, tmp_path: Path, cut: float
) -> None:
    manifest = _copy_target(built, tmp_path / "t")
    text = manifest.read_text()
    manifest.write_text(text[: int(len(text) * cut)])
    with pytest.raises(DbtArtifactError) as err:
        load_dbt_project(manifest)
    assert str(manifest) in str(err.value)
    assert "invalid JSON at line" in err.value.reason and "column" in err.value.reason


def test_wrong_shapes_and_versions(built: BuiltProject, tmp_path: Path) -> None:
    manifest = _copy_target(built, tmp_path / "t")
    data = json.loads(manifest.read_text())
    bad = dict(
        data,
        metadata=dict(
            data["metadata"], dbt_schema_version="https://schemas.getdbt.com/dbt/manifest/v3.json"
        ),
    )
    manifest.write_text(json.dumps(bad))
    with pytest.raises(DbtArtifactError, match=r"v3 was written by dbt-core 0\.21.*>= 1\.0"):
        load_dbt_project(manifest)
    manifest.write_text(json.dumps({k: v for k, v in data.items() if k != "nodes"}))
    with pytest.raises(DbtArtifactError, match="'nodes' is missing"):
        load_dbt_project(manifest)
    manifest.write_text(json.dumps(data["nodes"]))
    with pytest.raises(DbtArtifactError, match="metadata"):
        load_dbt_project(manifest)
    with pytest.raises(DbtArtifactError, match="file not found"):
        load_dbt_project(tmp_path / "nope" / "manifest.json")


def test_corrupt_run_results_beside_a_good_manifest(built: BuiltProject, tmp_path: Path) -> None:
    manifest = _copy_target(built, tmp_path / "t")
    (manifest.parent / "run_results.json").write_text('{"metadata": ')
    with pytest.raises(DbtArtifactError, match=r"run_results\.json"):
        load_dbt_project(manifest)


def test_unparseable_sql_keeps_table_level_lineage(built: BuiltProject, tmp_path: Path) -> None:
    manifest = _copy_target(built, tmp_path / "t")
    data = json.loads(manifest.read_text())
    node = data["nodes"]["model.livestream.seller_revenue"]
    node["compiled_code"] = node["compiled_code"].replace("select", "selec t((", 1)
    manifest.write_text(json.dumps(data))
    project = load_dbt_project(manifest)
    assert "could not parse" in project.lineage_errors["model.livestream.seller_revenue"]
    g = project.graph
    ups = {h.node.id for h in g.upstream("seller_revenue", depth=1).nodes}
    assert ups == {"model.livestream.stg_orders", "model.livestream.stg_users"}
    assert g.node("model.livestream.seller_revenue").lineage_error
    # nothing column-level known into it, so a column change upstream still reaches it
    assert "main.seller_revenue" in g.impact("stg_users", "username").tables


def test_manifest_without_compiled_code(built: BuiltProject, tmp_path: Path) -> None:
    """Like ``dbt parse``: simple ref/source jinja is rendered, anything else is table-level."""
    manifest = _copy_target(built, tmp_path / "t")
    data = json.loads(manifest.read_text())
    for n in data["nodes"].values():
        n.pop("compiled_code", None)
        n["compiled"] = False
    data["nodes"]["model.livestream.customers"]["raw_code"] += "\n{{ my_macro() }}"
    manifest.write_text(json.dumps(data))
    (manifest.parent / "catalog.json").unlink()
    project = load_dbt_project(manifest)
    g = project.graph
    assert g.node("model.livestream.seller_revenue").meta["lineage_sql"] == "rendered raw_code"
    assert ("model.livestream.stg_orders", "amount") in {
        (h.node.id, h.column) for h in g.upstream("seller_revenue", "gross_revenue").columns
    }
    assert "compiled_code" in project.lineage_errors["model.livestream.customers"]
    assert {h.node.id for h in g.upstream("customers", depth=1).nodes} >= {
        "model.livestream.stg_orders",
        "model.livestream.stg_users",
    }


@pytest.mark.parametrize("value", [True, 3, ["duckdb"], {"name": "duckdb"}, None, ""])
def test_an_adapter_type_that_is_not_a_name_reads_as_generic_sql(value):
    from tidegauge.integrations.dbt_nodes import dialect_of

    assert dialect_of(value) is None
    assert dialect_of("DuckDB") == dialect_of("duckdb") is not None

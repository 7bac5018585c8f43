"""Pre-merge impact: real manifests of the fixture project, before and after a change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.dbtkit import BuiltProject, built_fixture_project, parse_variant
from tidegauge.core.impact import ChangeKind, compare_graphs
from tidegauge.integrations.dbt import load_dbt_project

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

STG_ORDERS = "models/staging/stg_orders.sql"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return built_fixture_project(tmp_path_factory)


def test_dropping_a_used_column_is_breaking(built: BuiltProject, tmp_path: Path) -> None:
    sql = (built.project_dir / STG_ORDERS).read_text()
    new_manifest = parse_variant(built, tmp_path, {STG_ORDERS: sql.replace("    status,\n", "")})
    report = compare_graphs(
        load_dbt_project(new_manifest).graph, load_dbt_project(built.manifest).graph
    )
    assert report.breaking
    assert [(c.node_id, c.kind) for c in report.changed_nodes] == [
        ("model.livestream.stg_orders", ChangeKind.MODIFIED)
    ]
    (change,) = [c for c in report.column_changes if c.kind is ChangeKind.REMOVED]
    assert (change.node_id, change.column) == ("model.livestream.stg_orders", "status")
    used = {(u.table, u.column) for u in change.used_by}
    assert ("main.seller_revenue", "gross_revenue") in used
    assert ("main.customers", "lifetime_value") in used
    assert all(t != "main.marketplace_activity" for t, _ in used)
    assert change.exposures == ("Seller dashboard",)
    assert "revenue@example.com" in report.owners
    assert report.as_dict()["breaking"] is True


def test_adding_a_column_is_not_breaking(built: BuiltProject, tmp_path: Path) -> None:
    sql = (built.project_dir / STG_ORDERS).read_text()
    edited = sql.replace("    status,\n", "    status,\n    amount * 100 as amount_cents,\n")
    new_manifest = parse_variant(built, tmp_path, {STG_ORDERS: edited})
    report = compare_graphs(
        load_dbt_project(new_manifest).graph, load_dbt_project(built.manifest).graph
    )
    assert not report.breaking
    assert not [c for c in report.column_changes if c.kind is ChangeKind.REMOVED]
    assert "main.seller_revenue" in report.downstream_models  # worth a look, not breaking


def test_identical_manifests_change_nothing(built: BuiltProject) -> None:
    g = load_dbt_project(built.manifest).graph
    report = compare_graphs(g, g)
    assert not report.breaking and report.changed_nodes == () and report.column_changes == ()

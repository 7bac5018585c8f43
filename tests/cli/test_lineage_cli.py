"""``tidegauge lineage`` and ``tidegauge impact`` on the built fixture project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.fixtures.dbtkit import BuiltProject, built_fixture_project, parse_variant
from tidegauge.cli import lineage

pytestmark = [pytest.mark.dbt, pytest.mark.slow]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return built_fixture_project(tmp_path_factory)


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None: ...

    lineage.register(app)
    return app


def run(app: typer.Typer, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_column_lineage_json(app: typer.Typer, built: BuiltProject) -> None:
    res = run(
        app,
        "lineage",
        "stg_orders",
        "--column",
        "amount",
        "--json",
        "--manifest",
        str(built.manifest),
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["node"] == "model.livestream.stg_orders"
    assert {(c["table"], c["column"], c["direct"]) for c in data["upstream"]["columns"]} == {
        ("main_raw.raw_orders", "amount", True),
        ("main_raw.raw_orders", "status", False),  # where status <> 'test'
    }
    down = {(c["table"], c["column"], c["direct"]) for c in data["downstream"]["columns"]}
    assert ("main.seller_revenue", "gross_revenue", True) in down
    assert ("main.show_performance", "revenue", True) in down
    assert data["impact"]["exposures"] == ["Seller dashboard"]


def test_table_lineage_tree_for_humans(app: typer.Typer, built: BuiltProject) -> None:
    res = run(
        app,
        "lineage",
        "model.livestream.customers",
        "--upstream",
        "--depth",
        "1",
        "--manifest",
        str(built.manifest),
    )
    assert res.exit_code == 0, res.output
    for name in ("main.stg_orders", "main.stg_payments", "main.stg_users"):
        assert name in res.stdout
    assert "main_raw.raw_users" not in res.stdout  # depth 1


def test_bad_input_exits_2_with_a_message(
    app: typer.Typer, built: BuiltProject, tmp_path: Path
) -> None:
    m = str(built.manifest)
    res = run(app, "lineage", "nope_table", "--manifest", m)
    assert res.exit_code == 2 and "no table or dbt node named" in res.stderr
    res = run(app, "lineage", "stg_orders", "--column", "nope", "--manifest", m)
    assert res.exit_code == 2 and "has no column" in res.stderr
    broken = tmp_path / "manifest.json"
    broken.write_text(built.manifest.read_text()[:1000])
    res = run(app, "lineage", "stg_orders", "--manifest", str(broken))
    assert res.exit_code == 2 and "invalid JSON at line" in res.stderr
    res = run(app, "impact", "--manifest", str(broken), "--base-manifest", m)
    assert res.exit_code == 2 and "Traceback" not in res.output
    res = run(app, "lineage", "stg_orders", "--upstream", "--downstream", "--manifest", m)
    assert res.exit_code == 2


def test_impact_exit_codes(app: typer.Typer, built: BuiltProject, tmp_path: Path) -> None:
    m = str(built.manifest)
    res = run(app, "impact", "--manifest", m, "--base-manifest", m)
    assert res.exit_code == 0, res.output
    sql = (built.project_dir / "models/staging/stg_orders.sql").read_text()
    new = parse_variant(
        built, tmp_path, {"models/staging/stg_orders.sql": sql.replace("    status,\n", "")}
    )
    res = run(app, "impact", "--manifest", str(new), "--base-manifest", m, "--json")
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["breaking"] is True
    assert any(c["column"] == "status" and c["breaking"] for c in data["column_changes"])
    res = run(app, "impact", "--manifest", str(new), "--base-manifest", m)
    assert res.exit_code == 1 and "BREAKING" in res.stdout

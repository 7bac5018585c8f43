"""The impact check sees through ``select *``: a jaffle-shaped project built with dbt-duckdb.

Staging models ``select *`` from seeds, so a ``dbt parse`` manifest of a change cannot say by
itself which columns they have. Their seeds' columns come from the base ``catalog.json``, else
tidegauge's store, else the warehouse; when none has them, ``impact`` says so and exits 2.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fixtures.dbtkit import BuiltProject, build_jaffle_project, parse_variant
from tidegauge.cli.main import app
from tidegauge.core.impact import ChangeKind, compare_graphs
from tidegauge.integrations.dbt import load_dbt_project
from tidegauge.integrations.dbt_columns import StarColumns

pytestmark = [pytest.mark.dbt, pytest.mark.slow]

STG_ORDERS = "models/staging/stg_orders.sql"
STG_PAYMENTS = "models/staging/stg_payments.sql"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltProject:
    return build_jaffle_project(tmp_path_factory.mktemp("jaffle"))


@pytest.fixture(scope="module")
def without_status(built: BuiltProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt parse` of a change: stg_orders no longer selects status (orders.status reads it)."""
    sql = (built.project_dir / STG_ORDERS).read_text()
    assert "        status\n" in sql
    edited = sql.replace("        order_date,\n        status\n", "        order_date\n")
    return parse_variant(built, tmp_path_factory.mktemp("variant"), {STG_ORDERS: edited}, "jaffle")


@pytest.fixture(scope="module")
def without_method(built: BuiltProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt parse` of a change to a bare star: stg_payments drops payment_method, which
    orders.credit_card_amount reads. Only the seed's columns can tell what the star now is."""
    edited = "select * exclude (payment_method) from {{ ref('raw_payments') }}\n"
    return parse_variant(
        built, tmp_path_factory.mktemp("variant"), {STG_PAYMENTS: edited}, "jaffle"
    )


@pytest.fixture()
def base_without_catalog(built: BuiltProject, tmp_path: Path) -> Path:
    dest = tmp_path / "base"
    dest.mkdir()
    (dest / "manifest.json").write_bytes(built.manifest.read_bytes())
    return dest / "manifest.json"


def _impact(*args: str, config: Path | None = None) -> tuple[int, str]:
    cfg = ["--config", str(config)] if config else ["--config", "/nonexistent/tidegauge.yml"]
    res = CliRunner().invoke(app, [*cfg, "impact", *args])
    assert "Traceback" not in res.output
    return res.exit_code, res.output


def _users(report_json: dict, column: str) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    (change,) = [c for c in report_json["column_changes"] if c["column"] == column]
    assert change["change"] == "removed" and change["breaking"]
    return {(u["table"], u["column"]) for u in change["used_by"]}


def test_removing_status_from_stg_orders_is_breaking(
    built: BuiltProject, without_status: Path
) -> None:
    base = load_dbt_project(built.manifest)
    stars = StarColumns(base)
    new = load_dbt_project(without_status, resolve_columns=stars)
    assert stars.used["seed.jaffle.raw_orders"] == "base_catalog"
    assert new.graph.node("model.jaffle.stg_orders").meta["columns_from"] == "sql"
    report = compare_graphs(new.graph, base.graph)
    assert report.breaking and report.checked
    (change,) = [c for c in report.column_changes if c.kind is ChangeKind.REMOVED]
    assert (change.node_id, change.column) == ("model.jaffle.stg_orders", "status")
    assert ("main.orders", "status") in {(u.table, u.column) for u in change.used_by}
    assert change.exposures == ("revenue_dashboard",)

    code, out = _impact(
        "--manifest", str(without_status), "--base-manifest", str(built.manifest), "--json"
    )
    assert code == 1, out
    data = json.loads(out)
    assert data["breaking"] is True and data["checked"] is True
    assert ("main.orders", "status") in _users(data, "status")


def test_a_star_over_a_cte_that_renames_every_column_needs_no_catalog(
    without_status: Path, base_without_catalog: Path
) -> None:
    """jaffle_shop's staging shape: `select *` of a CTE whose columns are all spelled out."""
    code, out = _impact(
        "--manifest", str(without_status), "--base-manifest", str(base_without_catalog), "--json"
    )
    assert code == 1, out
    assert ("main.orders", "status") in _users(json.loads(out), "status")


def test_an_unresolvable_star_is_could_not_check(
    without_method: Path, base_without_catalog: Path
) -> None:
    """No base catalog, no store, no warehouse: the seed's columns are unknown, so what
    stg_payments' star now yields is unknown, and the check refuses to call it safe."""
    base = load_dbt_project(base_without_catalog)
    new = load_dbt_project(without_method, resolve_columns=StarColumns(base))
    report = compare_graphs(new.graph, base.graph)
    assert not report.checked and not report.breaking
    assert "model.jaffle.stg_payments" in {u.node_id for u in report.unresolved}
    code, out = _impact(
        "--manifest", str(without_method), "--base-manifest", str(base_without_catalog)
    )
    assert code == 2, out
    assert "COULD NOT CHECK" in out and "main.stg_payments" in out


def test_the_base_catalog_resolves_a_bare_star(built: BuiltProject, without_method: Path) -> None:
    code, out = _impact(
        "--manifest", str(without_method), "--base-manifest", str(built.manifest), "--json"
    )
    assert code == 1, out
    data = json.loads(out)
    assert data["columns_resolved_from"]["seed.jaffle.raw_payments"] == "base_catalog"
    assert ("main.orders", "credit_card_amount") in _users(data, "payment_method")


def test_a_harmless_change_through_the_star_is_safe(built: BuiltProject, tmp_path: Path) -> None:
    edited = "select *, amount / 100 as amount_dollars from {{ ref('raw_payments') }}\n"
    new = parse_variant(built, tmp_path, {STG_PAYMENTS: edited}, "jaffle")
    code, out = _impact("--manifest", str(new), "--base-manifest", str(built.manifest))
    assert code == 0, out


def _project_file(folder: Path, warehouse: Path | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wh = (
        f"warehouses:\n  - type: duckdb\n    name: main\n    path: '{warehouse}'\n"
        if warehouse
        else ""
    )
    cfg = folder / "tidegauge.yml"
    cfg.write_text(f"name: shop\nstore:\n  url: sqlite:///store.db\n{wh}")
    return cfg


def test_the_warehouse_resolves_the_star_when_no_catalog_has_it(
    built: BuiltProject, without_method: Path, base_without_catalog: Path, tmp_path: Path
) -> None:
    cfg = _project_file(tmp_path / "tg", built.warehouse)
    code, out = _impact(
        "--manifest",
        str(without_method),
        "--base-manifest",
        str(base_without_catalog),
        "--json",
        config=cfg,
    )
    assert code == 1, out
    data = json.loads(out)
    assert data["columns_resolved_from"]["seed.jaffle.raw_payments"] == "warehouse"
    assert ("main.orders", "credit_card_amount") in _users(data, "payment_method")


def test_stored_columns_resolve_the_star_before_the_warehouse(
    built: BuiltProject, without_method: Path, base_without_catalog: Path, tmp_path: Path
) -> None:
    """What tidegauge collected from production; no warehouse reachable at all."""
    from tidegauge.core.model import ColumnInfo, TableInfo, TableKind, TableRef, TypeFamily
    from tidegauge.store.store import Store

    cfg = _project_file(tmp_path / "tg", None)
    store = Store.open(f"sqlite:///{tmp_path / 'tg' / 'store.db'}")
    cols = ("id", "order_id", "payment_method", "amount")
    store.upsert_tables(
        [
            TableInfo(
                ref=TableRef("main", "main_raw", "raw_payments"),
                kind=TableKind.TABLE,
                columns=tuple(
                    ColumnInfo(c, "VARCHAR", TypeFamily.STRING, True, i) for i, c in enumerate(cols)
                ),
            )
        ],
        datetime.now(UTC),
    )
    store.close()
    code, out = _impact(
        "--manifest",
        str(without_method),
        "--base-manifest",
        str(base_without_catalog),
        "--json",
        config=cfg,
    )
    assert code == 1, out
    data = json.loads(out)
    assert data["columns_resolved_from"]["seed.jaffle.raw_payments"] == "store"
    assert ("main.orders", "credit_card_amount") in _users(data, "payment_method")

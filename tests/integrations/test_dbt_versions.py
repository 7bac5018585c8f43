"""Manifests written by every dbt-core release tidegauge supports load, with the same lineage.

``tests/fixtures/manifests/dbt-<version>/`` holds what ``make dbt-matrix`` built: the jaffle
fixture project built by that dbt-core (and the dbt-duckdb uv resolved for it) in its own venv,
gzipped as dbt wrote it, for every minor from 1.0 (manifest v4) to 1.11 (v12). The
``dbt``-marked test at the end builds the same project with the dbt installed here, so a new
dbt release is covered before its fixture is committed.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from tests.fixtures.dbtkit import run_dbt
from tidegauge.core.lineage import LineageGraph, NodeKind
from tidegauge.integrations.dbt import DbtArtifactError, load_dbt_project

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MANIFESTS = FIXTURES / "manifests"
# dbt-core minor -> the manifest schema it writes (dbt's own artefact docs)
SCHEMA_OF = {
    "1.0": 4,
    "1.1": 5,
    "1.2": 6,
    "1.3": 7,
    "1.4": 8,
    "1.5": 9,
    "1.6": 10,
    "1.7": 11,
    "1.8": 12,
    "1.9": 12,
    "1.10": 12,
    "1.11": 12,
}
BUILT = sorted(
    (p.name.removeprefix("dbt-") for p in MANIFESTS.glob("dbt-*")), key=lambda v: SCHEMA_OF[v]
)


def test_every_release_from_1_0_has_a_fixture() -> None:
    """Real builds of each dbt-core minor: 1.0-1.4 (manifest v4-v8) on Python 3.9 with the
    DuckDB of their time, 1.5-1.11 (v9-v12) on this Python."""
    assert set(SCHEMA_OF) <= set(BUILT)


def _unpack(version: str, dest: Path, catalog: bool = True) -> Path:
    dest.mkdir(parents=True)
    names = ("manifest.json", "catalog.json") if catalog else ("manifest.json",)
    for name in names:
        (dest / name).write_bytes(
            gzip.decompress((MANIFESTS / f"dbt-{version}" / f"{name}.gz").read_bytes())
        )
    return dest / "manifest.json"


def _check_jaffle(graph: LineageGraph) -> None:
    """What the jaffle project's SQL says, whichever dbt wrote the manifest."""
    kinds = {n.id: n.kind for n in graph.nodes}
    for seed in ("raw_customers", "raw_orders", "raw_payments"):
        assert kinds[f"seed.jaffle.{seed}"] is NodeKind.SEED
    for model in ("stg_customers", "stg_orders", "stg_payments", "orders", "customers"):
        assert kinds[f"model.jaffle.{model}"] is NodeKind.MODEL
    assert kinds["exposure.jaffle.revenue_dashboard"] is NodeKind.EXPOSURE
    # table lineage from depends_on
    assert {h.node.id for h in graph.upstream("model.jaffle.orders", depth=1).nodes} == {
        "model.jaffle.stg_orders",
        "model.jaffle.stg_payments",
    }
    # column lineage through `select *` of a seed, a CTE rename and an aggregate
    up = {(h.node.id, h.column) for h in graph.upstream("model.jaffle.orders", "status").columns}
    assert ("model.jaffle.stg_orders", "status") in up and (
        "seed.jaffle.raw_orders",
        "status",
    ) in up
    up = {
        (h.node.id, h.column)
        for h in graph.upstream("model.jaffle.customers", "lifetime_value").columns
    }
    assert ("seed.jaffle.raw_payments", "amount") in up
    assert [c.name for c in graph.node("model.jaffle.stg_orders").columns] == [
        "order_id",
        "customer_id",
        "order_date",
        "status",
    ]
    assert graph.node("model.jaffle.orders").owners == ("@finance",)


@pytest.mark.parametrize("version", BUILT)
def test_manifest_of_each_release_loads(version: str, tmp_path: Path) -> None:
    project = load_dbt_project(_unpack(version, tmp_path / "target"))
    assert project.dbt_version.startswith(version + ".")
    assert project.schema_version == SCHEMA_OF[version]
    assert project.adapter_type == "duckdb"
    assert not project.lineage_errors
    _check_jaffle(project.graph)
    assert {t.test_type for t in project.tests} == {"unique", "not_null", "accepted_values"}


@pytest.mark.parametrize("version", BUILT)
def test_without_a_catalog_star_columns_come_from_the_sql_alone(
    version: str, tmp_path: Path
) -> None:
    """No catalog and no warehouse: a seed's columns are unknown, so `select *` of it is not
    expanded, yet the renamed CTE still gives stg_orders its columns and table lineage holds."""
    project = load_dbt_project(_unpack(version, tmp_path / "target", catalog=False))
    g = project.graph
    assert {h.node.id for h in g.upstream("model.jaffle.stg_payments", depth=1).nodes} == {
        "seed.jaffle.raw_payments"
    }
    assert [c.name for c in g.node("model.jaffle.stg_orders").columns] == [
        "order_id",
        "customer_id",
        "order_date",
        "status",
    ]


def test_raw_sql_of_dbt_1_0_is_rendered_when_compiled_sql_is_missing(tmp_path: Path) -> None:
    """dbt-core up to 1.2 writes raw_sql/compiled_sql; a `dbt parse` manifest has no
    compiled_sql, so the raw_sql's ref() calls are rendered from depends_on."""
    manifest = _unpack("1.0", tmp_path / "target")
    data = json.loads(manifest.read_text())
    for node in data["nodes"].values():
        assert "raw_code" not in node and "compiled_code" not in node
        node.pop("compiled_sql", None)
    manifest.write_text(json.dumps(data))
    g = load_dbt_project(manifest).graph
    assert g.node("model.jaffle.orders").meta["lineage_sql"] == "rendered raw_code"
    _check_jaffle(g)


def test_optional_keys_may_be_missing_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    manifest = _unpack("1.7", tmp_path / "target")
    data = json.loads(manifest.read_text())
    for key in ("exposures", "metrics", "groups", "semantic_models", "saved_queries", "sources"):
        data.pop(key, None)
    data["a_key_from_the_future"] = {"x": 1}
    data["nodes"]["model.jaffle.orders"]["another_new_field"] = [1, 2]
    manifest.write_text(json.dumps(data))
    g = load_dbt_project(manifest).graph
    assert "exposure.jaffle.revenue_dashboard" not in g
    assert ("seed.jaffle.raw_orders", "status") in {
        (h.node.id, h.column) for h in g.upstream("model.jaffle.orders", "status").columns
    }


@pytest.mark.parametrize(("schema", "release"), [(1, "0.19"), (2, "0.20"), (3, "0.21")])
def test_older_schemas_name_the_dbt_core_needed(schema: int, release: str, tmp_path: Path) -> None:
    manifest = _unpack("1.5", tmp_path / "target")
    data = json.loads(manifest.read_text())
    data["metadata"]["dbt_schema_version"] = (
        f"https://schemas.getdbt.com/dbt/manifest/v{schema}.json"
    )
    manifest.write_text(json.dumps(data))
    with pytest.raises(DbtArtifactError) as err:
        load_dbt_project(manifest)
    assert f"v{schema} was written by dbt-core {release}" in err.value.reason
    assert "dbt-core >= 1.0" in err.value.reason


@pytest.mark.dbt
@pytest.mark.slow
def test_the_installed_dbt_builds_a_manifest_that_loads(tmp_path: Path) -> None:
    project = tmp_path / "jaffle"
    shutil.copytree(FIXTURES / "jaffle_project", project)
    (project / "profiles.yml").write_text(
        "jaffle:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: '{tmp_path / 'jaffle.duckdb'}'\n      threads: 1\n"
    )
    run_dbt(project, "build")
    run_dbt(project, "docs", "generate")
    loaded = load_dbt_project(project / "target" / "manifest.json")
    assert loaded.schema_version == 12
    _check_jaffle(loaded.graph)


# compiled SQL as each adapter writes it; every statement fails to parse, or parses into the
# wrong lineage, in another dialect
DIALECT_SQL = {
    "bigquery": (
        "select o.* except (customer_id), safe_cast(p.amount as int64) as amount_int "
        "from `jaffle`.`main`.`stg_orders` as o "
        "left join `jaffle.main.stg_payments` as p on o.order_id = p.order_id",
        {("order_id", "stg_orders", "order_id"), ("amount_int", "stg_payments", "amount")},
        {"customer_id"},
    ),
    "snowflake": (
        "select o.order_id, iff(o.status = 'returned', 0, p.amount) as net "
        "from jaffle.main.stg_orders o join jaffle.main.stg_payments p "
        "on o.order_id = p.order_id "
        "qualify row_number() over (partition by o.order_id order by p.amount desc) = 1",
        {("order_id", "stg_orders", "order_id"), ("net", "stg_payments", "amount")},
        set(),
    ),
    "databricks": (
        "select o.order_id, nvl(p.amount, 0) as amount "
        "from `jaffle`.`main`.`stg_orders` o "
        "left join `jaffle`.`main`.`stg_payments` p on o.order_id = p.order_id",
        {("order_id", "stg_orders", "order_id"), ("amount", "stg_payments", "amount")},
        set(),
    ),
    "redshift": (
        "select o.order_id, dateadd(day, 1, o.order_date) as next_day "
        "from jaffle.main.stg_orders o join jaffle.main.stg_payments p "
        "on o.order_id = p.order_id",
        {("order_id", "stg_orders", "order_id"), ("next_day", "stg_orders", "order_date")},
        set(),
    ),
}


@pytest.mark.parametrize("adapter", sorted(DIALECT_SQL))
def test_column_lineage_parses_the_adapters_dialect_without_a_warehouse(
    adapter: str, tmp_path: Path
) -> None:
    sql, edges, absent = DIALECT_SQL[adapter]
    manifest = _unpack("1.11", tmp_path / "target")
    data = json.loads(manifest.read_text())
    data["metadata"]["adapter_type"] = adapter
    data["nodes"]["model.jaffle.orders"]["compiled_code"] = sql
    manifest.write_text(json.dumps(data))
    # the parents' columns from the catalog; the rewritten model's own from its SQL
    catalog_path = manifest.parent / "catalog.json"
    catalog = json.loads(catalog_path.read_text())
    del catalog["nodes"]["model.jaffle.orders"]
    catalog_path.write_text(json.dumps(catalog))
    project = load_dbt_project(manifest)
    assert "model.jaffle.orders" not in project.lineage_errors
    g = project.graph
    direct = {
        (e.target_column, e.source.split(".")[-1], e.source_column)
        for col in g.node("model.jaffle.orders").columns
        for e in g.upstream("model.jaffle.orders", col.name, depth=1).column_edges
        if e.kind.value == "direct"
    }
    assert edges <= direct, direct
    assert not {c for _, _, c in direct} & absent

    # the same SQL read as DuckDB's: refused or different, which is why the dialect matters
    data["metadata"]["adapter_type"] = "duckdb"
    manifest.write_text(json.dumps(data))
    other = load_dbt_project(manifest)
    g2 = other.graph
    direct2 = {
        (e.target_column, e.source.split(".")[-1], e.source_column)
        for col in g2.node("model.jaffle.orders").columns
        for e in g2.upstream("model.jaffle.orders", col.name, depth=1).column_edges
        if e.kind.value == "direct"
    }
    assert "model.jaffle.orders" in other.lineage_errors or direct2 != direct

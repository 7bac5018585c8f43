"""The warehouse registry: one place names engines, and an adapter plugged in through the
``tidegauge.warehouses`` entry-point group is accepted wherever a built-in one is."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tidegauge.config import load_project
from tidegauge.core.metrics import Capabilities
from tidegauge.warehouses.base import Warehouse, WarehouseError
from tidegauge.warehouses.registry import (
    WAREHOUSES,
    adapter_class,
    entry_from_url,
    known_types,
    open_warehouse,
)
from tidegauge.yamlsource import ConfigError

PLUGIN = '''
from typing import Literal

from tidegauge.core.metrics import Capabilities
from tidegauge.warehouses.base import WarehouseConfigBase
from tidegauge.warehouses.duckdb import DuckDBWarehouse


class LakeWarehouseConfig(WarehouseConfigBase):
    type: Literal["lake"] = "lake"
    path: str
    read_only: bool = True
    flavour: str = "plain"


class LakeWarehouse(DuckDBWarehouse):
    """A third-party engine: DuckDB underneath, its own type and capabilities."""

    CONFIG = LakeWarehouseConfig
    URL_SCHEMES = ("lake",)
    CAPABILITIES = Capabilities("duckdb", max_select_items=50, count_if=True)
'''


@pytest.fixture
def lake_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real distribution on sys.path: a module and a dist-info with an entry point."""
    site = tmp_path / "site"
    (site / "lake_tidegauge").mkdir(parents=True)
    (site / "lake_tidegauge" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "lake_tidegauge-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lake-tidegauge\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[tidegauge.warehouses]\nlake = lake_tidegauge:LakeWarehouse\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("lake_tidegauge", None)


def test_every_builtin_engine_declares_its_config_and_capabilities() -> None:
    for kind in WAREHOUSES:
        cls = adapter_class(kind)
        assert issubclass(cls, Warehouse) and kind == cls.DIALECT
        assert cls.CONFIG.model_fields["type"].default == kind
        assert isinstance(cls.CAPABILITIES, Capabilities)
    # the measured limits live with their engine
    assert adapter_class("postgres").CAPABILITIES.max_select_items == 1600
    assert adapter_class("duckdb").CAPABILITIES.max_approx_distinct == 200


def test_an_entry_point_adapter_passes_config_validation_and_opens(
    lake_plugin: Path, tmp_path: Path
) -> None:
    assert "lake" in known_types()
    import duckdb

    db = tmp_path / "lake.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.orders AS SELECT 1 AS id")
    con.close()
    (tmp_path / "tidegauge.yml").write_text(
        f"warehouses:\n  - name: lake\n    type: lake\n    path: {db}\n    flavour: delta\n"
    )
    project = load_project(tmp_path / "tidegauge.yml")
    config = project.warehouses[0]
    assert type(config).__name__ == "LakeWarehouseConfig" and getattr(config, "flavour") == "delta"  # noqa: B009
    with open_warehouse(config) as wh:
        assert wh.capabilities().max_select_items == 50
        assert [t.ref.fqn for t in wh.list_tables()] == ["raw.orders"]


def test_a_plugged_in_engine_claims_its_url_scheme(lake_plugin: Path) -> None:
    assert entry_from_url("lake:///data/l.duckdb") == {
        "name": "main",
        "type": "lake",
        "path": "/data/l.duckdb",
    }
    assert entry_from_url("postgresql://u:pw@h/db")["url"] == "postgresql://u:${PGPASSWORD}@h/db"
    with pytest.raises(ValueError, match=r"unsupported warehouse URL scheme 'oracle'.*lake://"):
        entry_from_url("oracle://x")


def test_a_plugged_in_engine_reports_its_own_bad_keys(lake_plugin: Path, tmp_path: Path) -> None:
    (tmp_path / "tidegauge.yml").write_text(
        "warehouses:\n  - type: lake\n    path: x.duckdb\n    flavor: delta\n"
    )
    with pytest.raises(ConfigError) as e:
        load_project(tmp_path / "tidegauge.yml")
    assert "flavor" in str(e.value) and f"{tmp_path / 'tidegauge.yml'}:2" in str(e.value)


def test_an_unknown_type_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "tidegauge.yml").write_text("warehouses:\n  - type: oracle\n    path: x\n")
    with pytest.raises(ConfigError) as e:
        load_project(tmp_path / "tidegauge.yml")
    assert "unknown warehouse type 'oracle' (known: duckdb, postgres, mysql, snowflake" in str(
        e.value
    )
    with pytest.raises(WarehouseError, match="unknown warehouse type 'oracle'"):
        adapter_class("oracle")

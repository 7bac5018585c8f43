"""The house's layers point one way, checked on the source's imports (deferred ones included).

core ← store, warehouses ← notifiers, integrations ← config, monitors ← steps, fanout
← runner, services ← sdk, demo ← cli, web

A module may import its own layer and the layers below it, never one above: a step never
imports the runner, the store never imports a step, core imports no other layer at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tidegauge"

#: layer rank per top-level area of the package: lower layers never import higher ones
LAYERS: dict[str, int] = {
    "core": 0,
    "yamlsource": 0,
    "store": 1,
    "warehouses": 1,
    "notifiers": 2,
    "integrations": 2,
    "config": 3,
    "monitors": 3,
    "steps": 4,
    "fanout": 4,
    "collector": 4,
    "collector_columns": 4,  # the column steps of collect_table
    "streams": 4,  # polling topics: the streams' own collect and detect steps
    "streams.kafka": 3,  # the Kafka adapter; reads its part of the project file
    "streams.config": 2,  # the `streams:` part of the project file
    "runner": 5,
    "services": 5,  # what the CLI and the web share (the public JSON shapes)
    "streams.watch": 5,  # `tidegauge watch`: runs in a loop
    "sdk": 6,
    "demo": 6,
    "integrations.dagster": 6,  # the SDK as Dagster assets and checks
    "cli": 7,
    "web": 7,
}


def area(module: str) -> str | None:
    """The most specific key of ``LAYERS`` for ``module`` (``tidegauge.steps.x`` → steps)."""
    parts = module.split(".")
    if parts[0] != "tidegauge" or len(parts) < 2:
        return None
    two = ".".join(parts[1:3])
    return two if two in LAYERS else parts[1]


def imports(path: Path) -> list[tuple[int, str]]:
    """Every ``tidegauge.*`` module imported in ``path``, at any depth (lazy imports too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from tidegauge.integrations import x` imports tidegauge.integrations.x
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
    return [(line, m) for line, m in found if m.startswith("tidegauge.")]


def module_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def test_every_area_has_a_layer() -> None:
    areas = {a for p in SOURCES if (a := area(module_of(p))) is not None} - {"__init__"}
    unranked = sorted(a for a in areas if a not in LAYERS)
    assert not unranked, f"give these areas a layer in tests/test_layering.py: {unranked}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_import_reaches_up_a_layer(path: Path) -> None:
    here = area(module_of(path))
    if here is None or here not in LAYERS:
        return
    upward = [
        f"line {line}: {target} ({area(target)} is above {here})"
        for line, target in imports(path)
        if (a := area(target)) in LAYERS and LAYERS[a] > LAYERS[here]
    ]
    assert not upward, f"{path.name} imports a higher layer:\n" + "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule is not vacuous: a step importing the runner is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from tidegauge.runner import run\n")
    upward = [t for _, t in imports(bad) if LAYERS[area(t) or ""] > LAYERS["steps"]]
    assert upward == ["tidegauge.runner.run"]


def schema_reaches(path: Path) -> list[str]:
    """Imports of the store's tables (``tidegauge.store.schema``) in ``path``."""
    return [
        f"line {line}: {target}"
        for line, target in imports(path)
        if target == "tidegauge.store.schema" or target.startswith("tidegauge.store.schema.")
    ]


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if area(module_of(p)) != "store"],
    ids=lambda p: str(p.relative_to(PACKAGE.parent)),
)
def test_only_the_store_reaches_its_tables(path: Path) -> None:
    """Outside ``store/`` the store is read and written through its repositories; ruff bans
    the import too (``tidegauge/ruff.toml``), this check also sees deferred imports."""
    reaches = schema_reaches(path)
    assert not reaches, f"{path.name} reaches the store's tables:\n" + "\n".join(reaches)


def test_the_check_sees_a_reach_into_the_tables(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f():\n    from tidegauge.store import schema as s\n"
        "    from tidegauge.store.schema import alerts\n"
    )
    assert schema_reaches(bad) == [
        "line 2: tidegauge.store.schema",
        "line 3: tidegauge.store.schema.alerts",
    ]

"""Start-up: the command loads only the CLI framework until a command needs more.

Structural, not timed (``make bench-cli`` measures the time): a fresh interpreter imports
the CLI, or prints ``--help`` / ``--version``, and we look at ``sys.modules``.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("fastapi", "starlette", "sqlalchemy", "duckdb", "pydantic", "numpy", "sqlglot", "rich")

PROBE = """
import json, sys
sys.argv = ["tidegauge", *json.loads(sys.argv[1])]
import tidegauge.cli.main as m
if sys.argv[1:]:
    try:
        m.main()
    except SystemExit:
        pass
sys.stdout = sys.__stdout__
print("\\nMODULES=" + json.dumps(sorted({k.split(".")[0] for k in sys.modules})))
"""


def loaded(*argv: str, cwd: Path | None = None, probe: str = PROBE) -> tuple[set[str], str]:
    """The modules a fresh interpreter holds after ``tidegauge *argv``, and what it printed."""
    proc = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(list(argv))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=cwd,
    )
    head, _, tail = proc.stdout.rpartition("\nMODULES=")
    return set(json.loads(tail)), head


@pytest.mark.parametrize("argv", [(), ("--version",), ("--help",)])
def test_starting_the_cli_loads_no_web_store_or_warehouse_stack(argv):
    modules, _ = loaded(*argv)
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    _, out = loaded("--version")
    assert out.strip() == f"tidegauge {version('tidegauge')}"


def test_help_lists_every_command():
    _, out = loaded("--help")
    for command in ("init", "run", "alerts", "validate", "serve", "demo", "status"):
        assert f" {command} " in out


def test_status_reads_the_store_without_the_project_models_or_alembic(tmp_path):
    """``status`` finds the store from the file's ``store.url`` (no pydantic project, no
    monitors, no warehouse drivers) and, the store being current, skips alembic."""
    from tidegauge.store.store import Store

    (tmp_path / "tidegauge.yml").write_text(
        "warehouses: [{type: duckdb, path: w.duckdb}]\nstore: {url: 'sqlite:///s/state.db'}\n"
    )
    Store.open(f"sqlite:///{tmp_path / 's' / 'state.db'}").close()  # created and migrated
    probe = PROBE.replace('k.split(".")[0] for k in sys.modules', "k for k in sys.modules")
    modules, head = loaded("status", "--json", cwd=tmp_path, probe=probe)
    assert json.loads(head)["tables"] == 0
    for heavy in ("tidegauge.config", "tidegauge.monitors", "alembic", "numpy", "duckdb"):
        assert heavy not in modules, heavy
    assert "sqlglot" not in modules and "fastapi" not in modules


def test_init_tests_the_connection_without_loading_the_store(tmp_path):
    """``init`` connects and lists the warehouse's tables (issue 17: the first run's cost
    includes it) without the metadata store's stack: no SQLAlchemy, no alembic."""
    import duckdb

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE t AS SELECT 1 AS id")
    con.close()
    modules, head = loaded("init", "-w", f"duckdb:///{tmp_path}/w.duckdb", cwd=tmp_path)
    assert "connected: 1 tables" in head  # the probe listed the table
    assert "duckdb" in modules
    # nor the detectors' numerics: a calendar's direction comes from core.direction
    assert not modules & {"sqlalchemy", "alembic", "fastapi", "numpy"}, sorted(modules)

"""The CLI end to end: init → discover → run → alerts/incidents, and clean errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tidegauge.cli.main import app
from tidegauge.cli.project import warehouse_from_url

runner = CliRunner()


def make_duckdb(path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA shop")
    con.execute(
        "CREATE TABLE shop.orders AS SELECT i AS id, "
        "TIMESTAMP '2026-01-01' + i * INTERVAL 20 MINUTE AS created_at, "
        "CASE WHEN i % 3 = 0 THEN 'paid' ELSE 'placed' END AS status FROM range(3000) t(i)"
    )
    con.execute('CREATE TABLE shop."Odd ""name""" (x INTEGER)')
    con.close()


def cli(tmp_path: Path, *args: str):
    return runner.invoke(app, ["--config", str(tmp_path / "tidegauge.yml"), *args])


def test_init_discover_run_on_any_duckdb_file(tmp_path):
    db = tmp_path / "w.duckdb"
    make_duckdb(db)
    r = cli(tmp_path, "init", "--warehouse", f"duckdb://{db}")
    assert r.exit_code == 0, r.output
    r = cli(tmp_path, "init", "--warehouse", f"duckdb://{db}")
    assert r.exit_code == 2 and "already exists" in r.output

    r = cli(tmp_path, "discover", "--json")
    assert r.exit_code == 0, r.output
    tables = {t["fqn"]: t for t in json.loads(r.output)["warehouses"][0]["tables"]}
    assert set(tables) == {"shop.orders", 'shop.Odd "name"'}
    assert [c["name"] for c in tables["shop.orders"]["columns"]] == ["id", "created_at", "status"]
    assert tables["shop.orders"]["columns"][1]["family"] == "timestamp"

    r = cli(tmp_path, "run", "--now", "2026-01-30T00:00Z", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["tables"] == 2 and report["points"] > 0 and report["failed_tables"] == {}

    r = cli(tmp_path, "alerts", "--json")
    assert r.exit_code == 0 and isinstance(json.loads(r.output)["items"], list)
    r = cli(tmp_path, "incidents", "--json")
    assert r.exit_code == 0 and isinstance(json.loads(r.output)["items"], list)
    r = cli(tmp_path, "status", "--json")
    assert json.loads(r.output)["tables"] == 2


def test_bad_inputs_give_clear_errors(tmp_path):
    r = cli(tmp_path, "discover")
    assert r.exit_code == 2 and "no project file at" in r.output and "tidegauge init" in r.output
    (tmp_path / "tidegauge.yml").write_text(
        "warehouses:\n  - type: duckdb\n    path: nope.duckdb\n"
    )
    r = cli(tmp_path, "run", "--json")
    assert r.exit_code == 1
    assert "nope.duckdb does not exist" in json.loads(r.output)["warehouse_errors"]["main"]
    r = cli(tmp_path, "run", "--now", "yesterday")
    assert r.exit_code == 2 and "ISO-8601" in r.output
    r = cli(tmp_path, "incident", "999")
    assert r.exit_code == 2 and "no incident with id 999" in r.output


def test_unreachable_warehouse_is_reported_not_raised(tmp_path):
    (tmp_path / "tidegauge.yml").write_text(
        "warehouses:\n  - type: postgres\n    url: postgresql://u:secret@127.0.0.1:1/db\n"
        "    connect_timeout: 2\n"
    )
    # a real process: the entry point's error handling, no traceback, no password
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tidegauge.cli.main",
            "--config",
            str(tmp_path / "tidegauge.yml"),
            "discover",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "Traceback" not in out and "secret" not in out
    assert "main" in out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("duckdb:///abs/w.duckdb", {"type": "duckdb", "path": "/abs/w.duckdb"}),
        ("duckdb:////abs/w.duckdb", {"type": "duckdb", "path": "/abs/w.duckdb"}),
        ("duckdb://rel/w.duckdb", {"type": "duckdb", "path": "rel/w.duckdb"}),
        ("postgresql://u@h:5432/db", {"type": "postgres", "url": "postgresql://u@h:5432/db"}),
        ("mysql://root@127.0.0.1:3306/test", {"type": "mysql"}),
        ("postgresql://u:pw@h:5432/db", {"url": "postgresql://u:${PGPASSWORD}@h:5432/db"}),
    ],
)
def test_warehouse_from_url(url, expected):
    got = warehouse_from_url(url)
    assert expected.items() <= got.items()


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unsupported warehouse URL scheme"):
        warehouse_from_url("oracle://x")


# --- fail loudly ---------------------------------------------------------------------------


def _project(tmp_path: Path, extra: str = "") -> None:
    make_duckdb(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        f"warehouses:\n  - type: duckdb\n    path: w.duckdb\n{extra}"
        'store: {url: "sqlite:///state.db"}\n'
    )


def test_an_unknown_table_fails_with_the_closest_name(tmp_path):
    _project(tmp_path)
    r = cli(tmp_path, "run", "--now", "2026-01-30T00:00Z", "--table", "shop.ordrs")
    assert r.exit_code == 2
    assert "no table 'shop.ordrs'" in r.output and "did you mean 'shop.orders'" in r.output


def test_patterns_that_match_nothing_are_named_with_a_suggestion(tmp_path):
    _project(
        tmp_path,
        "tables:\n  - match: shop.ordrs\n    owner: x@example.com\n"
        "monitors:\n  - name: v\n    type: volume\n    table: shop.ordes\n",
    )
    r = cli(tmp_path, "run", "--now", "2026-01-30T00:00Z", "--no-notify")
    assert r.exit_code == 0, r.output
    assert "tables: match 'shop.ordrs' matches no table (did you mean 'shop.orders'?)" in r.output
    assert "monitor 'v': table 'shop.ordes' not found (did you mean 'shop.orders'?)" in r.output
    r = cli(tmp_path, "discover")
    assert "match 'shop.ordrs' matches no table" in r.output


def test_an_include_that_matches_nothing_is_named(tmp_path):
    make_duckdb(tmp_path / "w.duckdb")
    (tmp_path / "tidegauge.yml").write_text(
        "warehouses:\n  - type: duckdb\n    path: w.duckdb\n    include: [shopp.*]\n"
        'store: {url: "sqlite:///state.db"}\n'
    )
    r = cli(tmp_path, "discover")
    assert "include 'shopp.*' matches no table" in r.output, r.output


def test_kind_is_checked_and_since_reads_durations(tmp_path):
    _project(tmp_path)
    r = cli(tmp_path, "alerts", "--kind", "volum")
    assert r.exit_code == 2 and "did you mean 'volume'" in r.output
    for since in ("24h", "7d", "1h30m", "2026-01-01T00:00Z"):
        r = cli(tmp_path, "alerts", "--since", since, "--json")
        assert r.exit_code == 0, r.output
    r = cli(tmp_path, "alerts", "--since", "lately")
    assert r.exit_code == 2 and "24h, 7d" in r.output


def test_a_missing_project_file_points_at_init(tmp_path):
    r = cli(tmp_path, "status")
    assert r.exit_code == 2
    assert "tidegauge init --warehouse URL" in r.output


def test_json_lists_have_the_rest_api_shape(tmp_path):
    _project(tmp_path)
    assert cli(tmp_path, "run", "--now", "2026-01-30T00:00Z", "--no-notify").exit_code == 0
    for command in ("alerts", "incidents"):
        r = cli(tmp_path, command, "--json")
        assert r.exit_code == 0, r.output
        body = json.loads(r.output)
        assert set(body) == {"items", "total", "limit", "offset"}
        assert body["total"] >= len(body["items"])


# --- init ----------------------------------------------------------------------------------


def test_init_connects_says_what_it_found_and_the_next_command(tmp_path):
    db = tmp_path / "w.duckdb"
    make_duckdb(db)
    (tmp_path / "dbt" / "target").mkdir(parents=True)
    (tmp_path / "dbt" / "target" / "manifest.json").write_text("{}")
    r = cli(tmp_path, "init", "--warehouse", f"duckdb://{db}")
    assert r.exit_code == 0, r.output
    assert "connected: 2 tables in 1 schemas (shop)" in r.output
    assert "found dbt artefacts at dbt/target/manifest.json" in r.output
    assert "next: tidegauge run" in r.output
    assert "manifest: dbt/target/manifest.json" in (tmp_path / "tidegauge.yml").read_text()


def test_init_reports_a_connection_it_cannot_make(tmp_path):
    r = cli(tmp_path, "init", "--warehouse", "postgresql://u:pw@127.0.0.1:1/db")
    assert r.exit_code == 1
    assert "could not connect" in r.output and "tidegauge discover" in r.output


def test_init_moves_a_password_out_of_the_file_and_says_so(tmp_path):
    from tests.servers import POSTGRES_URL, require_server

    require_server("postgres")  # the real local server (trust auth ignores the password)
    url = POSTGRES_URL
    with_password = url.replace("postgres@", "postgres:not-needed-with-trust@", 1)
    r = cli(tmp_path, "init", "--warehouse", with_password)
    assert r.exit_code == 0, r.output
    text = (tmp_path / "tidegauge.yml").read_text()
    assert "not-needed-with-trust" not in text and "${PGPASSWORD}" in text
    assert "export PGPASSWORD=" in r.output and "connected:" in r.output

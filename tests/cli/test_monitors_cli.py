"""``schema``, ``validate``, ``plan``, ``apply`` and ``breaker`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from tests.monitorkit import END, write_project
from tidegauge.cli import breaker, monitors, run
from tidegauge.cli.common import CliState

runner = CliRunner()


def make_app() -> typer.Typer:
    # the same callback as tidegauge.cli.main, with this command modules
    app = typer.Typer(no_args_is_help=True, add_completion=False)

    @app.callback()
    def _global(
        ctx: typer.Context, config: Path = typer.Option(Path("tidegauge.yml"), "--config", "-c")
    ) -> None:
        ctx.obj = CliState(config_path=config)

    for module in (monitors, breaker, run):
        module.register(app)
    return app


APP = make_app()


def cli(root: Path, *args: str) -> Result:
    return runner.invoke(APP, ["--config", str(root / "tidegauge.yml"), *args])


def test_schema_is_json_schema_with_monitor_types(tmp_path: Path) -> None:
    r = cli(tmp_path, "schema")
    assert r.exit_code == 0, r.output
    schema = json.loads(r.output)
    assert "monitors" in schema["properties"] and "root" not in schema["properties"]
    text = json.dumps(schema)
    for kind in ("freshness", "volume", "field_health", "categorical", "custom_sql", "rule"):
        assert f'"const": "{kind}"' in text


def test_validate_reports_file_line_and_suggestion(tmp_path: Path) -> None:
    write_project(tmp_path)
    r = cli(tmp_path, "validate")
    assert r.exit_code == 0 and "4 monitor(s)" in r.output
    (tmp_path / "monitors" / "bad.yml").write_text(
        "monitors:\n  - name: x\n    type: rule\n    rule: not_null\n    table: raw.orders\n"
        "    colum: id\n"
    )
    r = cli(tmp_path, "validate")
    assert r.exit_code == 2
    out = " ".join(r.output.split())
    assert "bad.yml:6: monitors.0.colum: unknown key 'colum'; did you mean 'column'?" in out


@pytest.mark.slow
def test_plan_apply_breaker(tmp_path: Path) -> None:
    write_project(tmp_path, bad_status=True)
    assert cli(tmp_path, "run", "--now", END.isoformat()).exit_code == 0
    r = cli(tmp_path, "plan", "--json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert plan["create"] == 4 and plan["delete"] == 0
    vol = next(c for c in plan["changes"] if c["name"] == "orders_volume")
    assert vol["backtest"]["alerts_per_week"] is not None
    r = cli(tmp_path, "plan")
    assert "4 to create" in r.output
    r = cli(tmp_path, "apply")
    assert "4 created" in r.output
    r = cli(tmp_path, "plan", "--json")
    assert json.loads(r.output)["create"] == 0
    r = cli(tmp_path, "apply", "--json")
    assert json.loads(r.output)["unchanged"] == 4

    now = ["--now", END.isoformat()]
    r = cli(tmp_path, "breaker", "raw.orders", *now, "--json")
    assert r.exit_code == 1
    verdict = json.loads(r.output)
    assert verdict["tripped"] and verdict["tables"][0]["ok"] is False
    assert cli(tmp_path, "breaker", "raw.customers", *now).exit_code == 0
    # unknown table: closed for block, open for warn or when asked
    assert cli(tmp_path, "breaker", "raw.nope", *now).exit_code == 1
    r = cli(tmp_path, "breaker", "raw.nope", *now, "--level", "warn")
    assert r.exit_code == 0 and "cannot judge" in r.output
    assert cli(tmp_path, "breaker", "raw.nope", *now, "--fail-open").exit_code == 0
    # stale data
    late = ["--now", "2026-03-11T12:00:00+00:00"]
    assert (
        cli(tmp_path, "breaker", "raw.customers", *late, "--max-age", "6h", "--fail-open").exit_code
        == 0
    )
    r = cli(tmp_path, "breaker", "raw.orders", *late, "--max-age", "6h", "--level", "warn")
    assert r.exit_code == 1 and "h old" in r.output
    assert cli(tmp_path, "breaker", "raw.orders", "--level", "loud").exit_code == 2

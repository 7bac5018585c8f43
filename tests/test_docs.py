"""Docs stay true: every CLI command is in the README, every public export is documented,
and every top-level project key is described in the JSON Schema editors complete from."""

from pathlib import Path

import typer.main

import tidegauge
from tidegauge.cli.main import app
from tidegauge.config import Project

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_cli_command_is_in_the_readme():
    group = typer.main.get_command(app)
    missing = [name for name in group.commands if f"tidegauge {name}" not in README]
    assert missing == []


def test_every_public_export_has_a_docstring():
    assert tidegauge.__all__ == sorted(tidegauge.__all__)
    undocumented = [n for n in tidegauge.__all__ if not (getattr(tidegauge, n).__doc__ or "")]
    assert undocumented == []


def test_every_project_key_is_in_the_readme_or_schema():
    schema = Project.model_json_schema()
    for key in schema["properties"]:
        assert f"{key}:" in README or schema["properties"][key].get("description"), key


def test_the_readme_project_file_is_valid(tmp_path, monkeypatch):
    start = README.index("```yaml\nname: marketplace")
    text = README[start + len("```yaml\n") : README.index("```", start + 7)]
    for var in ("PGPASSWORD", "WEBHOOK_SECRET", "TIDEGAUGE_ADMIN_TOKEN"):
        monkeypatch.setenv(var, "x")
    no_dbt = text.replace("dbt:\n  manifest: target/manifest.json\n", "")
    (tmp_path / "tidegauge.yml").write_text(no_dbt)
    project = tidegauge.load_project(tmp_path / "tidegauge.yml")
    assert [w.type for w in project.warehouses] == ["duckdb", "postgres"]
    assert {m.name for m in project.monitors} == {"orders_volume", "status_values"}

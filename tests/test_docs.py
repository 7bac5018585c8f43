"""Docs stay true: every CLI command is in the README, every public export is documented,
and every top-level project key is described in the JSON Schema editors complete from."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup

import tidegauge
from tidegauge.cli.main import app
from tidegauge.config import Project

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_every_cli_command_is_in_the_readme():
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
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


def tutorial_script() -> str:
    """The ``sh`` blocks of the README's PostgreSQL tutorial, in order, as one script."""
    start = README.index("## Ten minutes on your own PostgreSQL")
    section = README[start : README.index("\n## ", start + 5)]
    blocks = section.split("```sh\n")[1:]
    return "\n".join(b[: b.index("```")] for b in blocks)


@pytest.mark.postgres
@pytest.mark.slow
def test_the_readme_tutorial_runs_on_a_real_postgresql(tmp_path):
    """Every command of the tutorial, as written, against the local PostgreSQL: the steps a
    new user copies must work, and the broken rule must come out as an alert."""
    from tests.servers import POSTGRES_URL, require_server

    require_server("postgres")
    script = tutorial_script()
    assert "tidegauge init" in script and "tidegauge alerts" in script
    script = script.replace("postgresql://postgres@127.0.0.1:5432/test", POSTGRES_URL)
    if shutil.which("psql") is None:
        pytest.fail("the tutorial uses psql: apt-get install postgresql-client")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TIDEGAUGE_CONFIG", None)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "connected: 1 tables in 1 schemas (tutorial)" in out
    assert "valid — 1 monitor(s)" in out
    assert "rule status_values" in out.lower() or "status_values" in out, out[-2000:]

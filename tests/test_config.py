"""The project file: validation errors name file, line and key; env interpolation."""

from pathlib import Path

import pytest

from tidegauge.config import load_project
from tidegauge.yamlsource import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tidegauge.yml"
    p.write_text(text)
    return p


def test_minimal_project_defaults(tmp_path):
    p = write(tmp_path, "warehouses:\n  - type: duckdb\n    path: w.duckdb\n")
    project = load_project(p)
    assert project.warehouses[0].name == "main"
    assert project.warehouses[0].path == str(tmp_path / "w.duckdb")
    assert project.store_url() == f"sqlite:///{tmp_path}/.tidegauge/state.db"


def test_unknown_key_names_line_and_suggests(tmp_path):
    p = write(tmp_path, "warehouses:\n  - type: duckdb\n    path: w.duckdb\n    inclde: [x]\n")
    with pytest.raises(ConfigError) as e:
        load_project(p)
    msg = str(e.value)
    assert f"{p}:4" in msg and "inclde" in msg and "did you mean 'include'" in msg


def test_bad_value_and_unknown_type(tmp_path):
    p = write(tmp_path, "warehouses:\n  - type: oracle\n    path: x\n")
    with pytest.raises(ConfigError) as e:
        load_project(p)
    assert f"{p}:2" in str(e.value)
    p = write(tmp_path, "warehouses: []\ndefaults:\n  bucket: minute\n")
    with pytest.raises(ConfigError, match=r":3: defaults.bucket"):
        load_project(p)


def test_env_interpolation(tmp_path, monkeypatch):
    text = "warehouses:\n  - type: postgres\n    url: ${TG_TEST_URL}\n"
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match=r":3: environment variable \$\{TG_TEST_URL\}"):
        load_project(p)
    monkeypatch.setenv("TG_TEST_URL", "postgresql://u@h/db")
    assert load_project(p).warehouses[0].url == "postgresql://u@h/db"


def test_invalid_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_project(tmp_path / "nope.yml")
    p = write(tmp_path, "warehouses:\n  - type: duckdb\n   path: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_project(p)


def test_duplicate_keys_and_names(tmp_path):
    p = write(tmp_path, "name: a\nname: b\n")
    with pytest.raises(ConfigError, match=":2: duplicate key 'name'"):
        load_project(p)
    p = write(tmp_path, "warehouses:\n  - {type: duckdb, path: a}\n  - {type: duckdb, path: b}\n")
    with pytest.raises(ConfigError, match="duplicate warehouse name"):
        load_project(p)


def test_table_settings_merge_by_glob(tmp_path):
    p = write(
        tmp_path,
        """
warehouses: [{type: duckdb, path: w.duckdb}]
tables:
  - match: "raw.*"
    owner: platform
    bucket: day
  - match: "raw.orders"
    timestamp_column: created_at
""",
    )
    project = load_project(p)
    s = project.settings_for("raw.orders")
    assert (s.owner, s.bucket.value, s.timestamp_column) == ("platform", "day", "created_at")
    assert project.settings_for("mart.x").owner is None


def test_channel_url_validated(tmp_path):
    p = write(tmp_path, "channels:\n  - name: h\n    type: webhook\n    url: not a url\n")
    with pytest.raises(ConfigError, match=r":4: channels.0.url"):
        load_project(p)


def test_an_impossible_date_names_file_line_and_key(tmp_path):
    # YAML reads a bare 2026-13-01 as a date and fails building it: no bare ValueError
    p = write(tmp_path, "warehouses: []\nname: x\nowners:\n  since: 2026-13-01\n")
    with pytest.raises(ConfigError) as e:
        load_project(p)
    msg = str(e.value)
    assert f"{p}:4" in msg and "owners.since" in msg and "2026-13-01" in msg

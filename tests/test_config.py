"""The project file: validation errors name file, line and key; env interpolation."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidegauge.config import load_project
from tidegauge.warehouses.duckdb import DuckDBWarehouseConfig
from tidegauge.warehouses.postgres import PostgresWarehouseConfig
from tidegauge.yamlsource import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tidegauge.yml"
    p.write_text(text)
    return p


def test_minimal_project_defaults(tmp_path):
    p = write(tmp_path, "warehouses:\n  - type: duckdb\n    path: w.duckdb\n")
    project = load_project(p)
    wh = project.warehouses[0]
    assert isinstance(wh, DuckDBWarehouseConfig)
    assert wh.name == "main"
    assert wh.path == str(tmp_path / "w.duckdb")
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
    wh = load_project(p).warehouses[0]
    assert isinstance(wh, PostgresWarehouseConfig)
    assert wh.url == "postgresql://u@h/db"


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


# --- one duration parser, one cron parser: what validate accepts, a run accepts -----------


def test_a_schedule_no_clock_reaches_is_refused_with_file_and_line(tmp_path):
    p = write(
        tmp_path,
        "warehouses:\n  - type: duckdb\n    path: w.duckdb\nmonitors:\n"
        "  - name: v\n    type: volume\n    table: raw.orders\n    schedule: '0 25 * * *'\n",
    )
    with pytest.raises(ConfigError) as e:
        load_project(p)
    assert f"{p}:8" in str(e.value) and "Bad hour" in str(e.value)


def test_the_same_durations_read_everywhere(tmp_path):
    # once, channels accepted 1h30m and freshness_sla did not: one parser now reads both
    p = write(
        tmp_path,
        "warehouses:\n  - type: duckdb\n    path: w.duckdb\n"
        "tables:\n  - match: '*'\n    freshness_sla: 1h30m\n"
        "channels:\n  - name: ops\n    type: webhook\n"
        "    url: http://127.0.0.1:9/hook\n    renotify_after: 1h30m\n",
    )
    project = load_project(p)
    assert project.tables[0].freshness_sla == timedelta(minutes=90)
    assert project.channels[0].renotify_after == timedelta(minutes=90)


_FIELD = st.one_of(
    st.just("*"),
    st.integers(-1, 70).map(str),
    st.tuples(st.integers(0, 40), st.integers(0, 40)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.integers(0, 20).map(lambda n: f"*/{n}"),
    st.sampled_from(["MON-FRI", "L", "1#2", "JAN", "?", "a", ""]),
)
_SCHEDULE = st.one_of(
    st.lists(_FIELD, min_size=4, max_size=6).map(" ".join),
    st.sampled_from(["@daily", "@hourly", "@often", "1h30m", "0s", "PT2H", "90", "-5m", "6 h"]),
    st.tuples(st.integers(0, 100), st.sampled_from("smhdwx")).map(lambda t: f"{t[0]}{t[1]}"),
)
_DURATION = st.one_of(
    st.sampled_from(["1h30m", "PT2H", "90", "2d", "1w", "soon", "", "0", "1.5h", "-1h"]),
    st.integers(-5, 10_000),
    st.tuples(st.integers(0, 99), st.sampled_from("smhdwy")).map(lambda t: f"{t[0]}{t[1]}"),
)


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory):
    import duckdb

    root = tmp_path_factory.mktemp("tiny")
    con = duckdb.connect(str(root / "w.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.orders AS SELECT i AS id, TIMESTAMP '2026-03-01' "
        "+ i * INTERVAL 1 HOUR AS created_at FROM range(0, 48) t(i)"
    )
    con.close()
    return root


@pytest.mark.slow
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=_SCHEDULE, sla=_DURATION, renotify=_DURATION)
def test_a_file_validate_accepts_never_fails_a_run_on_its_config(
    tiny_warehouse, schedule, sla, renotify
):
    """validate and run read schedules and durations with the same code, so no file passes
    the first and breaks the second (the "0 25 * * *" crash, a run after the first)."""
    from typer.testing import CliRunner

    from tidegauge.cli.main import app
    from tidegauge.core.clock import Clock
    from tidegauge.runner import run
    from tidegauge.store.store import Store

    root = tiny_warehouse
    doc = {
        "warehouses": [{"type": "duckdb", "path": str(root / "w.duckdb")}],
        "store": {"url": f"sqlite:///{root}/state.db"},
        "tables": [{"match": "*", "field_health": False, "freshness_sla": sla}],
        "monitors": [{"name": "v", "type": "volume", "table": "raw.orders", "schedule": schedule}],
        "channels": [
            {
                "name": "ops",
                "type": "webhook",
                "url": "http://127.0.0.1:9/hook",
                "renotify_after": renotify,
            }
        ],
    }
    p = root / "tidegauge.yml"
    p.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["--config", str(p), "validate"])
    if result.exit_code != 0:
        assert result.exit_code == 2 and "tidegauge.yml:" in result.output, result.output
        return
    project = load_project(p)
    store = Store.open(project.store_url())
    start = datetime(2026, 3, 3, 0, 5, tzinfo=UTC)
    try:
        # the second and third runs are the ones that ask whether the schedule is due
        for hours in (0, 1, 30):
            run(project, store, Clock.fixed(start + timedelta(hours=hours)), notify=False)
    finally:
        store.close()
        Path(f"{root}/state.db").unlink()

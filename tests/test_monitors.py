"""Monitors as code: YAML and monitors/*.yml, errors with file:line, translation into what the
run reads, rule SQL executed on a real DuckDB, plan/apply against a real store, dbt."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.monitorkit import END, write_project
from tidegauge.config import load_project
from tidegauge.core.clock import Clock
from tidegauge.monitors import (
    CustomSQLMonitor,
    FreshnessMonitor,
    RuleMonitor,
    VolumeMonitor,
    parse_monitor,
    rule_query,
)
from tidegauge.runner import run
from tidegauge.sdk import apply_plan, compute_plan
from tidegauge.store.store import Store
from tidegauge.yamlsource import ConfigError


def test_monitors_load_from_project_file_and_monitor_files(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path))
    names = [m.name for m in project.monitors]
    assert names == ["orders_volume", "orders_fresh", "orders_status_ok", "orders_customer_fk"]
    by = {m.name: m for m in project.monitors}
    assert by["orders_volume"].origin == f"{tmp_path / 'tidegauge.yml'}:8"
    assert by["orders_status_ok"].origin == f"{tmp_path / 'monitors' / 'orders.yml'}:2"
    assert {m.source for m in project.monitors} == {"yaml"}
    assert isinstance(by["orders_fresh"], FreshnessMonitor)
    # translated into what the run reads
    settings = project.settings_for("raw.orders")
    assert settings.freshness_sla is not None and settings.freshness_sla.total_seconds() == 21600
    assert settings.owner == "@omar"
    assert settings.field_health is False  # the user's glob still applies
    assert {m.name for m in project.metrics} == {"orders_status_ok", "orders_customer_fk"}
    assert project.user_config().metrics == []


def test_unknown_key_names_file_line_and_closest_key(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    (tmp_path / "monitors" / "bad.yml").write_text(
        "monitors:\n  - name: x\n    type: volume\n    table: raw.orders\n    sevrity: high\n"
    )
    with pytest.raises(ConfigError) as e:
        load_project(path)
    assert str(e.value) == (
        f"{tmp_path / 'monitors' / 'bad.yml'}:5: monitors.0.sevrity: unknown key 'sevrity'; "
        "did you mean 'severity'?"
    )


def test_errors_in_the_project_file_keep_its_format(tmp_path: Path) -> None:
    path = write_project(tmp_path, rules=False)
    text = path.read_text().replace("    sla: 6h", "    sla: soon\n    colums: [a]")
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_project(path)
    lines = str(e.value).splitlines()
    assert any(
        line.startswith(f"{path}:17: monitors.1.sla:") and "not a duration" in line
        for line in lines
    ), lines
    assert f"{path}:18: monitors.1.colums: unknown key 'colums'; did you mean 'columns'?" in lines


def test_unknown_type_and_rule_requirements(tmp_path: Path) -> None:
    path = write_project(tmp_path, rules=False)
    (tmp_path / "monitors").mkdir()
    (tmp_path / "monitors" / "a.yml").write_text(
        "monitors:\n  - {name: a, type: volumn, table: raw.orders}\n"
        "  - {name: b, type: rule, rule: range, table: raw.orders, column: amount}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_project(path)
    msg = str(e.value)
    assert f"{tmp_path / 'monitors' / 'a.yml'}:2: monitors.0: unknown type" in msg
    assert f"{tmp_path / 'monitors' / 'a.yml'}:3: monitors.1:" in msg
    assert "rule range needs 'min' and/or 'max'" in msg


def test_duplicate_names_name_both_places(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    (tmp_path / "monitors" / "more.yml").write_text(
        "monitors:\n  - {name: orders_volume, type: volume, table: raw.customers}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_project(path)
    assert str(e.value) == (
        f"{tmp_path / 'monitors' / 'more.yml'}:2: monitor 'orders_volume' is declared twice: "
        f"{path}:8 and {tmp_path / 'monitors' / 'more.yml'}:2"
    )
    # twice in one file: the second occurrence's line, and the first's
    path.write_text(path.read_text() + "  - {name: orders_fresh, type: volume, table: a.b}\n")
    (tmp_path / "monitors" / "more.yml").unlink()
    with pytest.raises(ConfigError) as e:
        load_project(path)
    assert f"{path}:18: monitors.2.name: duplicate monitor name 'orders_fresh'" in str(e.value)
    assert f"also declared at {path}:14" in str(e.value)


def test_unknown_channel_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    path = write_project(tmp_path, rules=False)
    path.write_text(
        path.read_text().replace("    schedule: 1h", "    channels: [slak]")
        + "channels:\n  - {name: slack, type: webhook, url: 'http://127.0.0.1:9'}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_project(path)
    assert "unknown channel 'slak'; did you mean 'slack'?" in str(e.value)


def test_schedules_and_python_objects_are_the_yaml_objects() -> None:
    m = parse_monitor(
        {
            "type": "volume",
            "name": "v",
            "table": "raw.orders",
            "schedule": "*/15 * * * *",
            "min_rows": 5,
        }
    )
    assert m == VolumeMonitor(name="v", table="raw.orders", schedule="*/15 * * * *", min_rows=5)
    with pytest.raises(ValidationError, match="not a duration"):
        VolumeMonitor(name="v", table="raw.orders", schedule="sometimes")
    with pytest.raises(ValidationError, match=r"schema\.table"):
        VolumeMonitor(name="v", table="orders")
    with pytest.raises(ValidationError, match="needs 'to'"):
        RuleMonitor(name="r", table="a.b", rule="relationships", column="x")


def test_rule_queries_count_violations_on_duckdb(tmp_path: Path) -> None:
    import duckdb

    from tests.monitorkit import build_warehouse

    build_warehouse(tmp_path / "w.duckdb", bad_status=True)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    cases = [
        (RuleMonitor(name="a", table="raw.orders", rule="not_null", column="id"), 0),
        (RuleMonitor(name="b", table="raw.orders", rule="unique", column="id"), 0),
        (RuleMonitor(name="c", table="raw.orders", rule="unique", column="status"), None),
        (
            RuleMonitor(
                name="d",
                table="raw.orders",
                rule="accepted_values",
                column="status",
                values=["paid", "placed"],
            ),
            7,
        ),
        (
            RuleMonitor(
                name="e", table="raw.orders", rule="range", column="amount", min=0, max=200
            ),
            0,
        ),
        (RuleMonitor(name="e2", table="raw.orders", rule="range", column="amount", max=50), None),
        (
            RuleMonitor(
                name="f",
                table="raw.orders",
                rule="relationships",
                column="customer_id",
                to="raw.customers",
                field="id",
            ),
            7,
        ),
    ]
    for m, want in cases:
        sql, lo, hi = rule_query(m, "duckdb")
        (got,) = con.execute(sql).fetchone()  # type: ignore[misc]
        assert hi == 0.0 and lo is None
        if want is not None:
            assert got == want, (m.name, sql)
        else:
            assert got > 0
    sql, lo, hi = rule_query(
        RuleMonitor(name="g", table="raw.orders", rule="row_count_min", min=10), "duckdb"
    )
    assert con.execute(sql).fetchone()[0] > 10 and lo == 10 and hi is None  # type: ignore[index]
    # rendered per dialect
    mysql, _, _ = rule_query(
        RuleMonitor(
            name="h", table="raw.orders", rule="accepted_values", column="status", values=["x"]
        ),
        "mysql",
    )
    assert "`" in mysql or "CAST" in mysql
    con.close()


@pytest.mark.slow
def test_run_fires_rules_through_the_normal_path(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path, bad_status=True))
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(END))
    rules = {a["metric"]: a for a in store.alerts.list(kind="rule")}
    assert set(rules) == {"rule:orders_status_ok", "rule:orders_customer_fk"}
    assert rules["rule:orders_status_ok"]["observed"] == 7
    assert rules["rule:orders_status_ok"]["incident_id"] is not None
    store.close()


@pytest.mark.slow
def test_plan_apply_idempotent_with_backtests_and_warnings(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    path.write_text(path.read_text() + "  - {name: ghost, type: volume, table: raw.nowhere}\n")
    project = load_project(path)
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(END))

    plan = compute_plan(project, store)
    assert [c.action for c in plan.changes] == ["create"] * 5
    assert any("raw.nowhere does not exist" in w for w in plan.warnings)
    volume = next(c for c in plan.changes if c.name == "orders_volume")
    assert volume.backtest is not None and volume.backtest["alerts_per_week"] is not None
    assert volume.backtest["series"] == 1
    fresh = next(c for c in plan.changes if c.name == "orders_fresh")
    assert fresh.backtest is not None and fresh.backtest["alerts_per_week"] == 0

    apply_plan(project, store, now=END)
    again = compute_plan(project, store)
    assert again.empty and len(again.unchanged) == 5
    assert apply_plan(project, store).empty

    # change one monitor, delete another, add one from Python
    path.write_text(
        path.read_text()
        .replace("sla: 6h", "sla: 2h")
        .replace("  - {name: ghost, type: volume, table: raw.nowhere}\n", "")
    )
    project = load_project(path)
    project.monitors = [
        *project.monitors,
        CustomSQLMonitor(
            name="big_orders",
            table="raw.orders",
            sql="select count(*) from raw.orders where amount > 100",
            max=10_000,
        ),
    ]
    plan = compute_plan(project, store)
    actions = {c.name: c for c in plan.changes}
    assert actions["orders_fresh"].action == "change"
    assert actions["orders_fresh"].changes["config"][1]["sla"] == "PT2H"
    assert actions["ghost"].action == "delete"
    assert actions["big_orders"].action == "create" and actions["big_orders"].source == "python"
    apply_plan(project, store)
    assert compute_plan(project, store).empty
    store.close()


@pytest.mark.slow
@pytest.mark.dbt
def test_dbt_meta_and_tests_become_monitors(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.fixtures.dbtkit import built_fixture_project, parse_variant

    built = built_fixture_project(tmp_path_factory)
    staging = (built.project_dir / "models" / "staging" / "_staging.yml").read_text()
    edited = staging.replace(
        '    meta:\n      owner: "@omar"\n',
        '    meta:\n      owner: "@omar"\n      tidegauge:\n'
        "        - {type: volume, severity: high, min_rows: 1}\n"
        "        - {type: freshness, name: orders_sla, sla: 1d, sevrity: low}\n",
    )
    assert edited != staging
    manifest = parse_variant(built, tmp_path, {"models/staging/_staging.yml": edited})
    (tmp_path / "tidegauge.yml").write_text(
        f"warehouses: [{{type: duckdb, path: '{built.warehouse}'}}]\n"
        f"store: {{url: 'sqlite:///state.db'}}\ndbt: {{manifest: '{manifest}'}}\n"
    )
    project = load_project(tmp_path / "tidegauge.yml")
    dbt = {m.name: m for m in project.dbt_monitors}
    assert {m.source for m in dbt.values()} == {"dbt"}
    vol = dbt["stg_orders_volume_0"]
    assert isinstance(vol, VolumeMonitor) and vol.table.endswith(".stg_orders")
    # the typo is reported with the node, not a crash
    assert any("stg_orders" in w and "sevrity" in w for w in project.monitor_warnings)
    rules = {(m.rule, m.column) for m in dbt.values() if isinstance(m, RuleMonitor)}
    assert {
        ("not_null", "order_id"),
        ("unique", "user_id"),
        ("accepted_values", "category"),
    } <= rules
    fk = next(m for m in dbt.values() if isinstance(m, RuleMonitor) and m.rule == "relationships")
    assert fk.to is not None and fk.to.endswith(".stg_users") and fk.field == "user_id"
    accepted = next(
        m for m in dbt.values() if isinstance(m, RuleMonitor) and m.rule == "accepted_values"
    )
    assert accepted.values == ["sneakers", "trading_cards"]
    # and the run checks them: the fixture's accepted_values test fails on purpose
    store = Store.open(project.store_url())
    run(project, store, Clock.fixed(END), notify=False)
    fired = {a["metric"] for a in store.alerts.list(kind="rule")}
    assert f"rule:{accepted.name}" in fired
    assert not any(m.startswith("rule:dbt.not_null") for m in fired)
    plan = compute_plan(project, store, backtests=False)
    assert {c.source for c in plan.changes} == {"dbt"}
    store.close()


def test_every_monitor_type_is_one_registered_class_that_says_what_it_owns() -> None:
    from tidegauge.monitors import MONITOR_TYPES, MONITORS, KeysMonitor, monitor_for_alert

    assert tuple(MONITORS) == MONITOR_TYPES
    for name, cls in MONITORS.items():
        assert cls.model_fields["type"].default == name and cls.ALERT_KINDS
    keys = parse_monitor({"type": "keys", "name": "k", "table": "raw.orders", "columns": ["id"]})
    assert isinstance(keys, KeysMonitor) and keys.table_settings() == {"keys": {"id": True}}
    assert keys.owns("duplicate_rate", "ID") and not keys.owns("null_rate", "id")
    assert monitor_for_alert([keys], "raw.orders", "duplicates", "duplicate_rate") is keys
    # a rule's alerts are found by its name, never by kind alone
    rule = RuleMonitor(name="u", table="raw.orders", rule="unique", column="id")
    assert monitor_for_alert([rule], "raw.orders", "rule", "null_rate") is None
    assert monitor_for_alert([rule], "raw.orders", "rule", "custom:u") is rule
    assert rule.table_settings() == {"keys": {"id": True}}  # a unique column is a key


def test_a_monitor_query_is_a_tree_rendered_by_the_warehouse_that_runs_it(tmp_path: Path) -> None:
    from tidegauge.monitors import custom_metric

    project = load_project(write_project(tmp_path))
    m = RuleMonitor(
        name="s", table="raw.orders", rule="accepted_values", column="status", values=["x"]
    )
    metric = custom_metric(project, m)
    assert metric is not None and metric.query is not None and metric.max == 0.0
    # the tree, not text in some other warehouse's dialect, reaches the collector
    assert "CHAR" in metric.query.sql("mysql") and "TEXT" in metric.query.sql("duckdb")


def test_monitors_do_not_import_the_project_file_model() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tidegauge.monitors; "
        "assert 'tidegauge.config' not in sys.modules, 'monitors imports config'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

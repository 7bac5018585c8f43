"""Parsers fuzzed with hypothesis: each input gives a result or the parser's own clear
error, never another exception and never a hang (every example has a deadline).

* the YAML project loader → ``Project`` or ``ConfigError``;
* dbt manifests (small generated ones, and mutations of a real dbt build's) → a project or
  ``DbtArtifactError``;
* OpenLineage ``parse_run_event`` → ``RunEvent`` or ``InvalidEvent``;
* ``column_lineage`` → a ``SqlLineage`` (an unparsable statement is recorded in ``error``);
* ``parse_custom_sql`` → one read-only query or ``CustomSQLError``.
"""

from __future__ import annotations

import copy
import json
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidegauge.config import ConfigError, load_project
from tidegauge.core.metrics import CustomSQLError, parse_custom_sql
from tidegauge.core.sql_lineage import SqlLineage, column_lineage
from tidegauge.integrations.dbt import DbtArtifactError, load_dbt_project
from tidegauge.integrations.openlineage import InvalidEvent, parse_run_event

FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)

# --- YAML project -------------------------------------------------------------------------
KEYS = [
    "warehouses",
    "store",
    "tables",
    "channels",
    "routes",
    "defaults",
    "web",
    "metrics",
    "name",
    "type",
    "path",
    "url",
    "match",
    "field_health",
    "segments",
    "history_days",
    "bucket",
    "timezone",
    "include",
    "exclude",
    "monitors",
    "dbt",
    "password",
]
key = st.one_of(st.sampled_from(KEYS), st.text(max_size=10))
yaml_values = st.recursive(
    st.one_of(scalars, st.sampled_from(["duckdb", "postgres", "${NOPE}", "*", "1h", "w.duckdb"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(key, inner, max_size=5)),
    max_leaves=25,
)
SEEDS = [
    "warehouses: [{type: duckdb, path: w.duckdb}]\n",
    "warehouses:\n  - type: postgres\n    url: postgresql://u:p@h/d\ntables:\n  - match: '*'\n",
    "store: {url: 'sqlite:///s.db'}\nchannels: [{name: a, type: webhook, url: 'http://x'}]\n",
]


def load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "tidegauge.yml"
        p.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_project(p)
        except ConfigError as e:
            assert str(e)


@FUZZ
@given(st.text(max_size=300))
def test_yaml_loader_on_arbitrary_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    load_text(text)


@FUZZ
@given(st.dictionaries(key, yaml_values, max_size=6))
def test_yaml_loader_on_arbitrary_structures(data: dict[str, Any]) -> None:
    load_text(yaml.safe_dump(data, allow_unicode=True))


def test_a_top_level_key_named_like_a_monitor_type_is_a_config_error() -> None:
    # monitor type names are union tags; stripping them from the error's key path left it
    # empty and the formatter raised IndexError instead of naming the key
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "tidegauge.yml"
        p.write_text("field_health: null\n")
        with pytest.raises(ConfigError, match=r"tidegauge.yml:1: field_health: unknown key"):
            load_project(p)


@FUZZ
@given(st.sampled_from(SEEDS), st.integers(0, 200), st.text(max_size=8))
def test_yaml_loader_on_mutated_valid_files(seed: str, at: int, insert: str) -> None:
    at = min(at, len(seed))
    try:
        insert.encode("utf-8")
    except UnicodeEncodeError:
        return
    load_text(seed[:at] + insert + seed[at + 1 :])


# --- dbt manifests ------------------------------------------------------------------------
def small_manifest() -> dict[str, Any]:
    return {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "project_name": "p",
            "adapter_type": "duckdb",
        },
        "nodes": {
            "model.p.a": {
                "resource_type": "model",
                "unique_id": "model.p.a",
                "name": "a",
                "database": "db",
                "schema": "main",
                "alias": "a",
                "package_name": "p",
                "depends_on": {"nodes": ["source.p.raw.t"]},
                "columns": {},
                "config": {"meta": {}},
                "meta": {},
                "tags": [],
                "compiled_code": "select id from raw.t",
                "raw_code": "select 1",
                "fqn": ["p", "a"],
            },
        },
        "sources": {
            "source.p.raw.t": {
                "resource_type": "source",
                "unique_id": "source.p.raw.t",
                "name": "t",
                "source_name": "raw",
                "database": "db",
                "schema": "raw",
                "identifier": "t",
                "columns": {},
                "meta": {},
                "tags": [],
                "fqn": ["p", "raw", "t"],
            },
        },
        "exposures": {},
        "metrics": {},
        "parent_map": {},
        "child_map": {},
    }


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths(v, (*prefix, i))
    return out


def mutate(doc: Any, where: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not where:
        return value
    doc = copy.deepcopy(doc)
    parent = doc
    for k in where[:-1]:
        parent = parent[k]
    if delete and isinstance(parent, dict):
        parent.pop(where[-1], None)
    else:
        parent[where[-1]] = value
    return doc


def load_manifest_text(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "manifest.json"
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            load_dbt_project(p, read_siblings=False)
        except DbtArtifactError as e:
            assert str(e)


@FUZZ
@given(st.data())
def test_dbt_small_manifest_mutations(data: st.DataObject) -> None:
    doc = small_manifest()
    where = data.draw(st.sampled_from(paths(doc)))
    value = data.draw(json_values)
    load_manifest_text(json.dumps(mutate(doc, where, value, data.draw(st.booleans()))))


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "replace")))
def test_dbt_manifest_arbitrary_bytes(raw: bytes) -> None:
    load_manifest_text(raw)


@pytest.fixture(scope="module")
def real_manifest(tmp_path_factory) -> dict[str, Any]:
    from tests.fixtures.dbtkit import built_fixture_project

    built = built_fixture_project(tmp_path_factory)
    return json.loads((built.target_dir / "manifest.json").read_text())


@pytest.mark.slow
@pytest.mark.dbt
@settings(
    max_examples=60,
    deadline=timedelta(seconds=10),
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_dbt_real_manifest_mutations(real_manifest: dict[str, Any], data: st.DataObject) -> None:
    all_paths = paths(real_manifest)
    where = data.draw(st.sampled_from([p for p in all_paths if len(p) <= 4]))
    value = data.draw(json_values)
    text = json.dumps(mutate(real_manifest, where, value, data.draw(st.booleans())))
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text)))]  # a truncated file
    load_manifest_text(text)


# --- OpenLineage --------------------------------------------------------------------------
VALID_EVENT = {
    "eventTime": "2024-05-01T12:00:00Z",
    "eventType": "COMPLETE",
    "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"},
    "job": {"namespace": "n", "name": "j"},
    "inputs": [{"namespace": "pg://h", "name": "s.t", "facets": {}}],
    "outputs": [
        {
            "namespace": "pg://h",
            "name": "s.u",
            "outputFacets": {"outputStatistics": {"rowCount": 3}},
        }
    ],
    "producer": "p",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
}


def parse_event(body: Any) -> None:
    try:
        parse_run_event(body)
    except InvalidEvent as e:
        assert str(e)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_openlineage_arbitrary_bodies(body: bytes | str) -> None:
    parse_event(body)


@FUZZ
@given(st.data())
def test_openlineage_mutated_events(data: st.DataObject) -> None:
    where = data.draw(st.sampled_from(paths(VALID_EVENT)))
    doc = mutate(VALID_EVENT, where, data.draw(json_values), data.draw(st.booleans()))
    parse_event(doc)
    parse_event(json.dumps(doc))


# --- SQL text -----------------------------------------------------------------------------
SQL_WORDS = st.sampled_from(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "JOIN",
        "ON",
        "GROUP BY",
        "UNION",
        "WITH",
        "AS",
        "(",
        ")",
        ",",
        "*",
        "a",
        "b.c",
        "t",
        "s.t",
        "'x'",
        "1",
        ";",
        "INSERT INTO",
        "CREATE TABLE",
        "DELETE",
        "--",
        "/*",
        "*/",
        "$$",
        '"q"',
        "CASE WHEN",
        "END",
        "OVER (",
        "PARTITION BY",
    ]
)
sql_text = st.one_of(st.text(max_size=200), st.lists(SQL_WORDS, max_size=30).map(" ".join))


@FUZZ
@given(sql_text, st.sampled_from([None, "duckdb", "postgres", "snowflake", "mysql"]))
def test_column_lineage_never_raises(sql: str, dialect: str | None) -> None:
    result = column_lineage(sql, dialect=dialect, schema={"s.t": ["a", "b"]})
    assert isinstance(result, SqlLineage)


@FUZZ
@given(sql_text, st.sampled_from(["duckdb", "postgres", "snowflake", "mysql"]))
def test_parse_custom_sql_is_a_query_or_a_clear_error(sql: str, dialect: str) -> None:
    try:
        parse_custom_sql(sql, dialect, name="custom metric m")
    except CustomSQLError as e:
        assert str(e).startswith("custom metric m:")

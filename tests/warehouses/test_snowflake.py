"""Snowflake-specific behaviour: URL parsing, types, error mapping (fakesnow + real driver)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.engines import Engine, open_engine
from tidegauge.core.model import TypeFamily
from tidegauge.warehouses.base import (
    ConnectionFailed,
    ObjectMissing,
    PermissionDenied,
    WarehouseError,
)
from tidegauge.warehouses.snowflake import (
    SnowflakeWarehouse,
    SnowflakeWarehouseConfig,
    column_family,
)


def test_url_wins_over_fields_and_is_percent_decoded() -> None:
    c = SnowflakeWarehouseConfig.model_validate(
        {
            "url": "snowflake://ana%40corp:p%2Fw%3F@xy12345.eu-west-1/RAW%20DB/PUBLIC"
            "?warehouse=WH_XS&role=READER",
            "account": "ignored",
            "user": "ignored",
            "database": "ignored",
        }
    )
    assert (c.user, c.password, c.account, c.database, c.schemas, c.warehouse, c.role) == (
        "ana@corp",
        "p/w?",
        "xy12345.eu-west-1",
        "RAW DB",
        ["PUBLIC"],
        "WH_XS",
        "READER",
    )


def test_url_alone_is_enough_and_a_bad_scheme_is_an_error() -> None:
    c = SnowflakeWarehouseConfig.model_validate({"url": "snowflake://u@acct/DB"})
    assert (c.account, c.user, c.database, c.password) == ("acct", "u", "DB", None)
    with pytest.raises(ValidationError, match="snowflake://"):
        SnowflakeWarehouseConfig.model_validate({"url": "https://u@acct/DB"})


@pytest.fixture
def sf(tmp_path: Path) -> Iterator[Engine]:
    with open_engine("snowflake", tmp_path) as eng:
        yield eng


def test_engine_specific_type_families(sf: Engine) -> None:
    sf.admin_run(
        f'CREATE TABLE "{sf.schema}"."typed" ('
        "v VARIANT, n NUMBER(38, 0), d NUMBER(12, 2), i INT, "
        "f FLOAT, s STRING, ntz TIMESTAMP_NTZ, tz TIMESTAMP_TZ, b BOOLEAN, dt DATE)"
    )
    table = next(t for t in sf.warehouse.list_tables() if t.ref.name == "typed")
    got = {c.name: c.family for c in table.columns}
    assert got == {
        "V": TypeFamily.JSON,
        "N": TypeFamily.INTEGER,
        "D": TypeFamily.DECIMAL,
        "I": TypeFamily.INTEGER,
        "F": TypeFamily.FLOAT,
        "S": TypeFamily.STRING,
        "NTZ": TypeFamily.TIMESTAMP,
        "TZ": TypeFamily.TIMESTAMP,
        "B": TypeFamily.BOOLEAN,
        "DT": TypeFamily.DATE,
    }
    assert {c.name: c.data_type for c in table.columns}["N"] == "NUMBER(38,0)"


@pytest.mark.parametrize(
    ("data_type", "family"),
    [
        # names as real Snowflake's information_schema reports them (fakesnow shows
        # ARRAY and OBJECT columns as VARIANT)
        ("ARRAY", TypeFamily.ARRAY),
        ("OBJECT", TypeFamily.JSON),
        ("VARIANT", TypeFamily.JSON),
        ("NUMBER(38,0)", TypeFamily.INTEGER),
        ("NUMBER(18,4)", TypeFamily.DECIMAL),
        ("TIMESTAMP_LTZ", TypeFamily.TIMESTAMP),
        ("GEOGRAPHY", TypeFamily.GEOMETRY),
        ("BINARY", TypeFamily.BINARY),
        ("TEXT", TypeFamily.STRING),
    ],
)
def test_snowflake_type_names(data_type: str, family: TypeFamily) -> None:
    assert column_family(data_type) is family


def test_schemas_limit_discovery(sf: Engine) -> None:
    sf.seed("kept", {"id": "int"}, [(1,)])
    sf.admin_run('CREATE SCHEMA "other_schema"', 'CREATE TABLE "other_schema"."hidden" (id INT)')
    names = {t.ref.fqn for t in sf.warehouse.list_tables()}
    assert names == {f"{sf.schema}.kept"}
    wide = sf.connect(schemas=[])
    assert "other_schema.hidden" in {t.ref.fqn for t in wide.list_tables()}


def _error(errno: int) -> Exception:
    import snowflake.connector

    return snowflake.connector.errors.ProgrammingError(msg=f"error {errno}", errno=errno)


def test_driver_errors_map_to_tidegauge_errors() -> None:
    wh = SnowflakeWarehouse(
        SnowflakeWarehouseConfig(account="acct", user="u", password="pw-secret", database="DB")
    )
    assert type(wh._map_error(_error(2003))) is ObjectMissing
    assert type(wh._map_error(_error(904))) is ObjectMissing
    assert type(wh._map_error(_error(3001))) is PermissionDenied
    timeout = wh._map_error(_error(630))
    assert type(timeout) is WarehouseError
    assert "statement timeout" in str(timeout)


def test_unreachable_account_is_a_connection_failure_without_the_password() -> None:
    # the real driver (no fakesnow) against a closed port
    wh = SnowflakeWarehouse(
        SnowflakeWarehouseConfig(
            name="sf",
            account="acme",
            user="bob",
            password="hunter2-secret",
            database="DB",
            host="127.0.0.1",
            port=1,
            protocol="http",
            connect_timeout=1,
        )
    )
    expected = re.escape("'sf' (snowflake account acme at 127.0.0.1:1")
    with pytest.raises(ConnectionFailed, match=expected) as e:
        wh.connect()
    assert "hunter2-secret" not in str(e.value)

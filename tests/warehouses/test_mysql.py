"""MySQL/MariaDB-specific behaviour: URL parsing, session settings, types, errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlglot import exp

from tests.engines import Engine, open_engine
from tidegauge.core.model import TypeFamily
from tidegauge.warehouses.base import ConnectionFailed, PermissionDenied


def test_url_wins_over_fields_and_is_percent_decoded() -> None:
    from tidegauge.warehouses.mysql import MySQLWarehouseConfig

    c = MySQLWarehouseConfig(
        url="mysql://app%40eu:p%23ss%2Fw@10.0.0.5:3307/s%C3%A4les", host="ignored", port=1
    )
    assert (c.user, c.password, c.host, c.port, c.database) == (
        "app@eu",
        "p#ss/w",
        "10.0.0.5",
        3307,
        "säles",
    )
    assert MySQLWarehouseConfig(url="mariadb://root@db").port == 3306


def test_url_with_the_wrong_scheme_is_a_config_error() -> None:
    from tidegauge.warehouses.mysql import MySQLWarehouseConfig

    with pytest.raises(ValidationError, match="mysql://"):
        MySQLWarehouseConfig(url="postgresql://root@localhost/test")


@pytest.fixture
def my(tmp_path: Path) -> Iterator[Engine]:
    with open_engine("mysql", tmp_path) as eng:
        yield eng


@pytest.mark.mysql
def test_session_is_read_only_utc_with_a_statement_timeout(my: Engine) -> None:
    wh = my.connect(statement_timeout=2.5)
    row = wh.execute(
        wh.parse("SELECT @@session.tx_read_only, @@session.time_zone, @@session.max_statement_time")
    ).rows[0]
    assert (int(row[0]), row[1], float(row[2])) == (1, "+00:00", 2.5)


@pytest.mark.mysql
def test_engine_specific_type_families(my: Engine) -> None:
    s = exp.to_identifier(my.schema, quoted=True).sql("mysql")
    my.admin_run(
        f"""CREATE TABLE {s}.typed (
            flag tinyint(1), small tinyint, e enum('new', 'paid'), j json,
            u int unsigned, dt datetime(6), ts timestamp NULL, n decimal(10, 2),
            v varchar(30), bl blob, f float, y year)"""
    )
    table = next(t for t in my.warehouse.list_tables() if t.ref.name == "typed")
    got = {c.name: c.family for c in table.columns}
    assert got == {
        "flag": TypeFamily.BOOLEAN,
        "small": TypeFamily.INTEGER,
        "e": TypeFamily.STRING,
        "j": TypeFamily.JSON,  # MariaDB: LONGTEXT + json_valid() check
        "u": TypeFamily.INTEGER,
        "dt": TypeFamily.TIMESTAMP,
        "ts": TypeFamily.TIMESTAMP,
        "n": TypeFamily.DECIMAL,
        "v": TypeFamily.STRING,
        "bl": TypeFamily.BINARY,
        "f": TypeFamily.FLOAT,
        "y": TypeFamily.OTHER,
    }
    assert {c.name: c.data_type for c in table.columns}["e"] == "enum('new','paid')"


@pytest.mark.mysql
def test_update_time_is_the_last_write_in_utc(my: Engine) -> None:
    my.seed("events", {"id": "int"}, [(i,) for i in range(10)])
    table = next(t for t in my.warehouse.list_tables() if t.ref.name == "events")
    assert table.last_modified is not None
    assert abs((datetime.now(UTC) - table.last_modified).total_seconds()) < 120
    assert table.row_count is not None


@pytest.mark.mysql
def test_permission_denied_names_the_warehouse(my: Engine) -> None:
    user = f"tgtest_{uuid.uuid4().hex[:8]}"
    my.seed("secret", {"id": "int"}, [(1,)])
    my.admin_run(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'")
    try:
        wh = my.connect(user=user, password=f"pw-{user}", database="information_schema")
        with pytest.raises(PermissionDenied, match="'test'"):
            wh.execute(exp.select(exp.Star()).from_(my.table("secret")))
        wh.close()
    finally:
        my.admin_run(f"DROP USER '{user}'@'%'")


@pytest.mark.mysql
def test_unreachable_port_is_a_connection_failure(my: Engine) -> None:
    wh = my.connect(port=1, password="hunter2-secret", connect_timeout=2)
    with pytest.raises(ConnectionFailed, match=r"'test' \(mysql at 127.0.0.1:1\)") as err:
        wh.connect()
    assert "hunter2-secret" not in str(err.value)

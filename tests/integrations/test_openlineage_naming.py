"""OpenLineage dataset naming per engine (spec/Naming.md), through each warehouse adapter."""

from __future__ import annotations

import pytest

from tidegauge.core.model import TableRef
from tidegauge.integrations import openlineage_naming as naming
from tidegauge.warehouses.duckdb import DuckDBWarehouse, DuckDBWarehouseConfig
from tidegauge.warehouses.mysql import MySQLWarehouse, MySQLWarehouseConfig
from tidegauge.warehouses.postgres import PostgresWarehouse, PostgresWarehouseConfig
from tidegauge.warehouses.snowflake import SnowflakeWarehouse, SnowflakeWarehouseConfig


def test_postgres_is_host_port_and_database_schema_table() -> None:
    wh = PostgresWarehouse(
        PostgresWarehouseConfig(name="pg", url="postgresql://u:p@DB.Internal:6543/shop")
    )
    assert wh.openlineage_dataset(TableRef("pg", "public", "orders")) == (
        "postgres://db.internal:6543",
        "shop.public.orders",
    )
    # a table another database holds keeps its own database
    assert wh.openlineage_dataset(TableRef("pg", "s", "t", "other"))[1] == "other.s.t"


def test_mysql_is_host_port_and_database_table() -> None:
    wh = MySQLWarehouse(MySQLWarehouseConfig(name="my", host="10.0.0.5", port=3307))
    # in MySQL a schema is a database: the name has two parts
    assert wh.openlineage_dataset(TableRef("my", "shop", "orders")) == (
        "mysql://10.0.0.5:3307",
        "shop.orders",
    )


@pytest.mark.parametrize(
    ("account", "namespace"),
    [
        ("myorg-myaccount", "snowflake://myorg-myaccount"),
        ("myorg-myaccount.snowflakecomputing.com", "snowflake://myorg-myaccount"),
        ("xy12345", "snowflake://xy12345.us-west-1.aws"),
        ("xy12345.us-east-1", "snowflake://xy12345.us-east-1.aws"),
        ("xy12345.east-us-2.azure", "snowflake://xy12345.east-us-2.azure"),
    ],
)
def test_snowflake_is_org_account_and_database_schema_table(account: str, namespace: str) -> None:
    wh = SnowflakeWarehouse(
        SnowflakeWarehouseConfig(name="sf", account=account, user="u", database="ANALYTICS")
    )
    assert wh.openlineage_dataset(TableRef("sf", "PUBLIC", "ORDERS")) == (
        namespace,
        "ANALYTICS.PUBLIC.ORDERS",
    )


def test_snowflake_matches_openlineage_own_account_rules() -> None:
    from openlineage.common.provider.snowflake import fix_account_name

    for account in ("myorg-acct", "xy12345", "xy12345.us-east-1", "xy12345.east-us-2.azure"):
        assert naming.snowflake_account(account) == fix_account_name(account)


def test_duckdb_is_the_file_and_its_catalog() -> None:
    wh = DuckDBWarehouse(DuckDBWarehouseConfig(name="main", path="/data/jaffle.duckdb"))
    assert wh.openlineage_dataset(TableRef("main", "main", "orders")) == (
        "duckdb:///data/jaffle.duckdb",
        "jaffle.main.orders",
    )


def test_kafka_is_the_first_bootstrap_server_and_the_topic() -> None:
    assert naming.kafka("broker-1:9093,broker-2:9093", "orders") == (
        "kafka://broker-1:9093",
        "orders",
    )
    assert naming.kafka("SASL_SSL://b:9094", "t") == ("kafka://b:9094", "t")
    assert naming.kafka("localhost", "t") == ("kafka://localhost:9092", "t")


def test_the_client_naming_helpers_agree() -> None:
    """Where the OpenLineage Python client ships a naming class, ours gives the same pair."""
    from openlineage.client.naming import dataset as ol

    pg = ol.Postgres(host="h", port="5432", database="d", schema="s", table="t")
    assert naming.postgres("h", 5432, "d", "s", "t") == (pg.get_namespace(), pg.get_name())
    my = ol.MySQL(host="h", port="3306", database="d", table="t")
    assert naming.mysql("h", 3306, "d", "t") == (my.get_namespace(), my.get_name())
    kf = ol.Kafka(bootstrap_server_host="b", port="9092", topic="x")
    assert naming.kafka("b:9092", "x") == (kf.get_namespace(), kf.get_name())

"""OpenLineage dataset names: the same table gets the same (namespace, name) from every producer.

OpenLineage's naming spec (spec/Naming.md) gives each datasource a namespace, the URI
``scheme://authority`` of the service instance, and each dataset a name, the path inside it.
Marquez and other consumers join lineage from dbt, Spark, Airflow and tidegauge on exactly that
pair, so any other spelling makes a second node for the same table.

============  =================================  ==========================
engine        namespace                          name
============  =================================  ==========================
PostgreSQL    ``postgres://{host}:{port}``       ``{database}.{schema}.{table}``
MySQL         ``mysql://{host}:{port}``          ``{database}.{table}``
Snowflake     ``snowflake://{org}-{account}``    ``{database}.{schema}.{table}``
DuckDB        ``duckdb://{path of the file}``    ``{database}.{schema}.{table}``
Kafka         ``kafka://{bootstrap host}:{port}``  ``{topic}``
============  =================================  ==========================

The spec has no DuckDB entry; the names above are what OpenLineage's own dbt integration
(``openlineage-dbt``) emits for dbt-duckdb: the profile's ``path`` and the catalog (the file's
stem, which DuckDB calls the database). Identifiers keep the case the engine reports.
"""

from __future__ import annotations

from pathlib import PurePath


def postgres(host: str, port: int | str, database: str, schema: str, table: str) -> tuple[str, str]:
    return f"postgres://{host.lower()}:{port}", f"{database}.{schema}.{table}"


def mysql(host: str, port: int | str, database: str, table: str) -> tuple[str, str]:
    return f"mysql://{host.lower()}:{port}", f"{database}.{table}"


def snowflake_account(account: str) -> str:
    """The account part of a Snowflake namespace, by the spec's two rules.

    An ``org-account`` identifier never carries a region: anything after its first dot is
    dropped (``myorg-acct.snowflakecomputing.com`` → ``myorg-acct``). A legacy locator does:
    AWS US West (Oregon) when none is given, AWS when only the region is
    (``xy12345`` → ``xy12345.us-west-1.aws``, ``xy12345.us-east-1`` → ``xy12345.us-east-1.aws``).
    """
    acc = account.strip().removeprefix("https://").rstrip("/")
    acc = acc.removesuffix(".snowflakecomputing.com")
    parts = acc.split(".")
    if "-" in parts[0]:
        return parts[0]
    if len(parts) == 1:
        return f"{parts[0]}.us-west-1.aws"
    if len(parts) == 2:
        return f"{parts[0]}.{parts[1]}.aws"
    return acc


def snowflake(account: str, database: str, schema: str, table: str) -> tuple[str, str]:
    return f"snowflake://{snowflake_account(account)}", f"{database}.{schema}.{table}"


def duckdb(path: str, schema: str, table: str, database: str | None = None) -> tuple[str, str]:
    """``database`` defaults to the file's stem, the catalog name DuckDB gives an attached file."""
    db = database or (PurePath(path).stem if path not in ("", ":memory:") else "memory")
    return f"duckdb://{path}", f"{db}.{schema}.{table}"


def kafka(bootstrap_server: str, topic: str) -> tuple[str, str]:
    """The first bootstrap server names the cluster: ``kafka://host:port`` and the topic."""
    first = bootstrap_server.split(",")[0].strip().removeprefix("PLAINTEXT://")
    first = (
        first.removeprefix("SSL://").removeprefix("SASL_SSL://").removeprefix("SASL_PLAINTEXT://")
    )
    host, _, port = first.rpartition(":")
    if not host:
        host, port = first, "9092"
    return f"kafka://{host}:{port}", topic

"""MySQL and MariaDB (PyMySQL).

Each MySQL *database* is a tidegauge schema; every readable one except the system
databases is listed. Sessions are ``READ ONLY`` with a server-side statement timeout
(MariaDB ``max_statement_time``, MySQL ``max_execution_time``), in UTC, autocommit so
that no snapshot outlives one query.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator
from sqlglot import exp

from tidegauge.core.metrics import Capabilities
from tidegauge.core.model import TableInfo, TableRef, TypeFamily
from tidegauge.warehouses.base import (
    ConnectionFailed,
    ObjectMissing,
    PermissionDenied,
    Warehouse,
    WarehouseConfigBase,
    WarehouseError,
)


class MySQLWarehouseConfig(WarehouseConfigBase):
    """A MySQL or MariaDB server: give ``url`` or the individual fields.

    ``url`` wins over the fields; its parts are percent-decoded.

    >>> c = MySQLWarehouseConfig(url="mariadb://app:p%2Fw@10.0.0.5/sales")
    >>> (c.user, c.password, c.host, c.port, c.database)
    ('app', 'p/w', '10.0.0.5', 3306, 'sales')
    """

    type: Literal["mysql"] = "mysql"
    url: str | None = Field(None, description="mysql://user:password@host:port/database")
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str | None = None
    database: str = Field("test", description="default database; every readable one is listed")

    @model_validator(mode="after")
    def _apply_url(self) -> MySQLWarehouseConfig:
        if not self.url:
            return self
        parts = urlsplit(self.url)
        if parts.scheme not in ("mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql"):
            raise ValueError(
                f"url scheme '{parts.scheme}' is not mysql:// (expected "
                "mysql://user:password@host:port/database)"
            )
        if parts.hostname:
            self.host = unquote(parts.hostname)
        if parts.port:
            self.port = parts.port
        if parts.username:
            self.user = unquote(parts.username)
        if parts.password is not None:
            self.password = unquote(parts.password)
        if parts.path.strip("/"):
            self.database = unquote(parts.path.strip("/"))
        return self


_SYSTEM_DATABASES = ("information_schema", "mysql", "performance_schema", "sys")
_TABLE_TYPES = ("BASE TABLE", "VIEW", "SYSTEM VERSIONED")

# MySQL / MariaDB error numbers → tidegauge errors
_MISSING = frozenset({1146, 1054, 1049, 1051, 1356, 1109})  # no table/column/db, broken view
_DENIED = frozenset({1142, 1143, 1044, 1227, 1370})
_TIMEOUT = frozenset({1969, 3024, 1317, 1028})  # MariaDB max_statement_time, MySQL, interrupted
_READ_ONLY = frozenset({1792})
_CONNECT = frozenset({1045, 1044, 1049, 2002, 2003, 2005, 2006, 2013, 1040, 1129, 1130})


def _col(name: str) -> exp.Column:
    return exp.column(name)


def _alias(expression: exp.Expression, name: str) -> exp.Expr:
    return exp.alias_(expression, name, quoted=True)


def _user_databases(column: str) -> exp.Expression:
    return exp.not_(_col(column).isin(*[exp.Literal.string(s) for s in _SYSTEM_DATABASES]))


class MySQLWarehouse(Warehouse):
    """MySQL 8 and MariaDB 10.5+.

    Capabilities:
      * approximate distinct, quantiles, TABLESAMPLE: no. Neither engine has an
        approximate distinct or a percentile *aggregate* (MariaDB's ``PERCENTILE_CONT``
        is a window function only) nor TABLESAMPLE; nor ``COUNT_IF`` or grouping sets.
      * select items: 4,096 columns per (temporary) table and a 64 KB row-size limit on
        the grouped temporary table, so a profile scan holds at most 1,000 aggregates.
      * timestamps: ``TIMESTAMP`` is stored in UTC and read back in the session zone (UTC),
        so only ``DATETIME`` holds naive wall times; no type carries a zone.
      * ``METADATA_ROW_COUNT``: no. ``TABLE_ROWS`` is exact for MyISAM/Aria but an
        estimate for InnoDB (often 10-40% off); it is still reported in ``row_count``.
      * ``METADATA_FRESHNESS``: yes, ``UPDATE_TIME``; InnoDB keeps it in memory only, so
        it is NULL for tables not written since the server started. Callers fall back
        to a timestamp column when ``last_modified`` is None.
    """

    DIALECT = "mysql"
    CONFIG = MySQLWarehouseConfig
    DRIVER_MODULE = "pymysql"
    URL_SCHEMES = ("mysql", "mariadb")
    PASSWORD_ENV = "MYSQL_PASSWORD"
    CAPABILITIES = Capabilities(
        "mysql",
        max_select_items=1000,
        grouping_sets=False,
        zoned_types=False,
        naive_type_prefixes=("datetime",),
    )
    # not load_file (server files), sleep/benchmark, get_lock, sys_exec-style UDFs
    SQL_FUNCTIONS = frozenset(
        [
            "date_format",
            "str_to_date",
            "unix_timestamp",
            "from_unixtime",
            "timestampdiff",
            "timestampadd",
            "date",
            "time",
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
            "dayofweek",
            "weekday",
            "regexp_like",
            "regexp_substr",
            "regexp_replace",
            "locate",
            "instr",
            "char_length",
            "group_concat",
            "json_length",
            "json_extract",
            "json_unquote",
            "md5",
            "sha2",
            "std",
            "stddev_samp",
            "ifnull",
        ]
    )
    METADATA_ROW_COUNT = False
    METADATA_FRESHNESS = True

    config: MySQLWarehouseConfig

    def __init__(self, config: MySQLWarehouseConfig) -> None:
        super().__init__(config)
        self._con: Any = None
        self.is_mariadb: bool | None = None
        self.server_version: str | None = None

    # --- connection -------------------------------------------------------------
    def _where(self) -> str:
        c = self.config
        return f"warehouse '{self.name}' (mysql at {c.host}:{c.port})"

    def _scrub(self, message: str) -> str:
        password = self.config.password
        if password:
            message = message.replace(password, "***")
        return message.strip()

    def connect(self) -> None:
        import pymysql  # type: ignore[import-untyped,unused-ignore]

        if self._con is not None:
            return
        c = self.config
        try:
            con = pymysql.connect(
                host=c.host,
                port=c.port,
                user=c.user,
                password=c.password or "",
                database=c.database or None,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=max(1, math.ceil(c.connect_timeout)),
                # client-side backstop in case the server-side timeout does not fire
                # (MySQL's max_execution_time only covers SELECT)
                read_timeout=max(1, math.ceil(c.statement_timeout + 30)),
            )
        except pymysql.Error as e:
            message = f"{self._where()}: cannot connect: {self._describe(e)}"
            raise ConnectionFailed(message) from None
        try:
            with con.cursor() as cur:
                cur.execute("SELECT VERSION()")
                version = str(cur.fetchone()[0])
                mariadb = "mariadb" in version.lower()
                statements = ["SET SESSION TRANSACTION READ ONLY", "SET time_zone = '+00:00'"]
                if mariadb:
                    statements.append(f"SET SESSION max_statement_time = {c.statement_timeout:f}")
                else:
                    ms = max(1, round(c.statement_timeout * 1000))
                    statements.append(f"SET SESSION max_execution_time = {ms}")
                    # MySQL 8 caches information_schema statistics for a day by default
                    statements.append("SET SESSION information_schema_stats_expiry = 0")
                for statement in statements:
                    cur.execute(statement)
        except pymysql.Error as e:
            con.close()
            raise ConnectionFailed(
                f"{self._where()}: cannot set up a read-only session: {self._describe(e)}"
            ) from None
        self._con, self.is_mariadb, self.server_version = con, mariadb, version

    def close(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            except Exception:  # already closed by the server; nothing left to release
                pass
            finally:
                self._con = None

    def _describe(self, e: Exception) -> str:
        args: tuple[Any, ...] = getattr(e, "args", ())
        message = str(args[1]) if len(args) > 1 else str(e)
        return self._scrub(message)

    def _execute_sql(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]], int | None]:
        import pymysql

        self.connect()
        try:
            with self._con.cursor() as cur:
                cur.execute(sql)
                rows = list(cur.fetchall()) if cur.description else []
                cols = [d[0] for d in cur.description] if cur.description else []
        except pymysql.Error as e:
            raise self._map_error(e) from None
        return cols, [tuple(r) for r in rows], None

    def _map_error(self, e: Exception) -> WarehouseError:
        args: tuple[Any, ...] = getattr(e, "args", ())
        code = args[0] if args and isinstance(args[0], int) else None
        detail = self._describe(e)
        if code in _TIMEOUT or (code == 2013 and "timed out" in detail):
            if code == 2013:
                self.close()
            return WarehouseError(
                f"{self._where()}: query cancelled after the statement timeout of "
                f"{self.config.statement_timeout:g}s: {detail}"
            )
        if code in _MISSING:
            return ObjectMissing(f"{self._where()}: {detail}")
        if code in _DENIED:
            return PermissionDenied(f"{self._where()}: {detail}")
        if code in _READ_ONLY:
            return WarehouseError(f"{self._where()}: refused in a read-only session: {detail}")
        if code in _CONNECT or code is None:
            self.close()
            return ConnectionFailed(f"{self._where()}: connection lost: {detail}")
        return WarehouseError(f"{self._where()}: {detail}")

    # --- metadata ---------------------------------------------------------------
    def list_tables(self) -> list[TableInfo]:
        kind = (
            exp.case()
            .when(_col("table_type").eq(exp.Literal.string("VIEW")), exp.Literal.string("view"))
            .else_(exp.Literal.string("table"))
        )
        q = (
            exp.select(
                _alias(_col("table_schema"), "schema"),
                _alias(_col("table_name"), "name"),
                _alias(kind, "kind"),
                _alias(_col("table_rows"), "row_count"),
                _alias(exp.Add(this=_col("data_length"), expression=_col("index_length")), "bytes"),
                _alias(_col("update_time"), "last_modified"),
            )
            .from_(exp.table_("tables", db="information_schema"))
            .where(_user_databases("table_schema"))
            .where(_col("table_type").isin(*[exp.Literal.string(t) for t in _TABLE_TYPES]))
        )
        rows = self.execute(q, comment="discover").dicts()
        columns = (
            exp.select(
                _alias(_col("table_schema"), "table_schema"),
                _alias(_col("table_name"), "table_name"),
                _alias(_col("column_name"), "column_name"),
                # COLUMN_TYPE keeps tinyint(1), enum('a','b') and unsigned
                _alias(_col("column_type"), "data_type"),
                _alias(_col("is_nullable"), "is_nullable"),
                _alias(_col("ordinal_position"), "ordinal_position"),
            )
            .from_(exp.table_("columns", db="information_schema"))
            .where(_user_databases("table_schema"))
            .order_by("table_schema", "table_name", "ordinal_position")
        )
        col_rows = self.execute(columns, comment="discover columns").dicts()
        tables = self.build_tables(rows, col_rows)
        json_columns = self._mariadb_json_columns()
        return [_with_json(t, json_columns) for t in tables] if json_columns else tables

    def _mariadb_json_columns(self) -> set[tuple[str, str, str]]:
        """MariaDB stores JSON as LONGTEXT plus an automatic ``json_valid`` check."""
        self.connect()
        if not self.is_mariadb:
            return set()
        q = (
            exp.select(
                _alias(_col("constraint_schema"), "schema"),
                _alias(_col("table_name"), "name"),
                _alias(_col("constraint_name"), "column"),
            )
            .from_(exp.table_("check_constraints", db="information_schema"))
            .where(_col("level").eq(exp.Literal.string("Column")))
            .where(_col("check_clause").like(exp.Literal.string("json\\_valid(%")))
            .where(_user_databases("constraint_schema"))
        )
        return {
            (str(r["schema"]), str(r["name"]), str(r["column"]))
            for r in self.execute(q, comment="discover json columns").dicts()
        }

    def openlineage_dataset(self, ref: TableRef) -> tuple[str, str]:
        from tidegauge.integrations import openlineage_naming

        # a MySQL schema is its database
        return openlineage_naming.mysql(self.config.host, self.config.port, ref.schema, ref.name)

    def view_definitions(self) -> dict[TableRef, str]:
        q = (
            exp.select(
                _alias(_col("table_schema"), "schema"),
                _alias(_col("table_name"), "name"),
                _alias(_col("view_definition"), "definition"),
            )
            .from_(exp.table_("views", db="information_schema"))
            .where(_user_databases("table_schema"))
        )
        return {
            TableRef(self.name, str(r["schema"]), str(r["name"])): str(r["definition"])
            for r in self.execute(q, comment="view definitions").dicts()
        }


def _with_json(table: TableInfo, json_columns: set[tuple[str, str, str]]) -> TableInfo:
    key = (table.ref.schema, table.ref.name)
    columns = tuple(
        dataclasses.replace(c, family=TypeFamily.JSON) if (*key, c.name) in json_columns else c
        for c in table.columns
    )
    return dataclasses.replace(table, columns=columns)

"""Snowflake (snowflake-connector-python).

Snowflake has no read-only session: read-only access is the role's job (grant the
tidegauge role USAGE and SELECT only). Statement timeout, time zone and a query tag are
session parameters set at login. Metadata (ROW_COUNT, BYTES, LAST_ALTERED) comes from
``information_schema`` and costs no warehouse credits for data.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlparse, urlsplit

from pydantic import Field, model_validator
from sqlglot import exp

from tidegauge.core.metrics import Capabilities, QuantileStyle
from tidegauge.core.model import TableInfo, TableRef, TypeFamily
from tidegauge.warehouses.base import (
    ConnectionFailed,
    ObjectMissing,
    PermissionDenied,
    Warehouse,
    WarehouseConfigBase,
    WarehouseError,
    type_family,
)


class SnowflakeWarehouseConfig(WarehouseConfigBase):
    """A Snowflake account and database.

    ``url`` (``snowflake://user:password@account/database?warehouse=WH&role=R``) wins
    over the fields; its parts are percent-decoded.

    >>> c = SnowflakeWarehouseConfig(url="snowflake://bob:p%40ss@xy12345/ANALYTICS?role=RO")
    >>> (c.account, c.user, c.password, c.database, c.role)
    ('xy12345', 'bob', 'p@ss', 'ANALYTICS', 'RO')
    """

    type: Literal["snowflake"] = "snowflake"
    url: str | None = Field(
        None, description="snowflake://user:password@account/database?warehouse=WH&role=ROLE"
    )
    account: str = Field(..., description="account identifier")
    user: str = Field(..., description="user name")
    password: str | None = None
    private_key_path: str | None = None
    private_key_passphrase: str | None = None
    role: str | None = None
    warehouse: str | None = Field(None, description="compute warehouse to run queries on")
    database: str = Field(..., description="database to monitor")
    schemas: list[str] = Field(default_factory=list, description="limit discovery to these")
    host: str | None = Field(None, description="override the account's host (private link)")
    port: int | None = None
    protocol: Literal["https", "http"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _apply_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("url"):
            return data
        url = str(data["url"])
        parts = urlsplit(url)
        if parts.scheme != "snowflake":
            raise ValueError(
                f"url scheme '{parts.scheme}' is not snowflake:// (expected "
                "snowflake://user:password@account/database?warehouse=WH&role=ROLE)"
            )
        out = dict(data)
        host = parts.netloc.rpartition("@")[2]
        if host:
            out["account"] = unquote(host)
        if parts.username:
            out["user"] = unquote(parts.username)
        if parts.password is not None:
            out["password"] = unquote(parts.password)
        path = [unquote(p) for p in parts.path.split("/") if p]
        if path:
            out["database"] = path[0]
        if len(path) > 1:
            out["schemas"] = [path[1]]
        for key, value in parse_qsl(parts.query):
            if key in ("warehouse", "role"):
                out[key] = value
        return out


# Snowflake error numbers → tidegauge errors
_MISSING = frozenset({2003, 904, 2043, 2140})  # 2003 also means "not authorized": Snowflake
_DENIED = frozenset({3001, 3003, 3041})  # does not say which, we report "missing"
_TIMEOUT = frozenset({630, 604})
_CONNECT = frozenset({250001, 250003, 251005, 251006, 390100, 390144, 390318, 390422})


def _col(name: str) -> exp.Column:
    return exp.column(name)


def _alias(expression: exp.Expression, name: str) -> exp.Expr:
    return exp.alias_(expression, name, quoted=True)


def column_family(data_type: str) -> TypeFamily:
    """Classify a Snowflake type name; integers are ``NUMBER(p,0)``.

    >>> column_family("NUMBER(38,0)"), column_family("NUMBER(12,2)")
    (<TypeFamily.INTEGER: 'integer'>, <TypeFamily.DECIMAL: 'decimal'>)
    """
    text = data_type.replace(" ", "").upper()
    for prefix in ("NUMBER(", "DECIMAL(", "NUMERIC("):
        if text.startswith(prefix) and text.endswith(",0)"):
            return TypeFamily.INTEGER
    return type_family(data_type, "snowflake")


class SnowflakeWarehouse(Warehouse):
    """Snowflake.

    Capabilities (all native): ``APPROX_COUNT_DISTINCT`` (HLL), ``PERCENTILE_CONT``,
    ``TABLESAMPLE BERNOULLI/SYSTEM (p)``; ``ROW_COUNT`` in information_schema is exact for
    tables, and ``LAST_ALTERED`` moves on every DML (and DDL), so metadata freshness and
    volume need no scan. No read-only session exists: use a SELECT-only role.
    ``PERCENTILE_CONT`` takes one fraction, so each quantile is its own aggregate; a
    statement is capped at 1 MB of text, so a scan holds at most 4,000 aggregates.
    Zoned timestamps are truncated as they are (``TIMESTAMP_TZ`` keeps its offset and
    ``CONVERT_TIMEZONE`` would change the type).
    """

    DIALECT = "snowflake"
    CONFIG = SnowflakeWarehouseConfig
    DRIVER_MODULE = "snowflake.connector"
    URL_SCHEMES = ("snowflake",)

    @classmethod
    def entry_from_url(cls, url: str) -> dict[str, object]:
        """``snowflake://user@account/database``; the password always from the environment."""
        parsed = urlparse(url)
        return {
            "name": "main",
            "type": "snowflake",
            "account": parsed.hostname or "",
            "user": unquote(parsed.username or ""),
            "password": "${SNOWFLAKE_PASSWORD}",
            "database": parsed.path.strip("/") or "ANALYTICS",
        }

    CAPABILITIES = Capabilities(
        "snowflake",
        approx_distinct=True,
        quantiles=True,
        tablesample=True,
        max_select_items=4000,
        quantile_style=QuantileStyle.EACH,
        count_if=True,
        truncate_in_utc=False,
        boolean_text=("true", "false"),
    )
    # not system$… functions, external functions or stage readers
    SQL_FUNCTIONS = frozenset(
        [
            "iff",
            "zeroifnull",
            "nullifzero",
            "div0",
            "approx_percentile",
            "hll",
            "to_date",
            "to_timestamp",
            "to_char",
            "to_varchar",
            "try_to_number",
            "try_to_date",
            "dateadd",
            "timestampdiff",
            "timestampadd",
            "regexp_like",
            "regexp_substr",
            "regexp_replace",
            "regexp_count",
            "charindex",
            "contains",
            "endswith",
            "startswith",
            "array_size",
            "parse_json",
            "split_part",
            "listagg",
            "median",
            "mode",
            "kurtosis",
            "skew",
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
            "dayofweek",
        ]
    )
    METADATA_ROW_COUNT = True
    METADATA_FRESHNESS = True

    config: SnowflakeWarehouseConfig

    def __init__(self, config: SnowflakeWarehouseConfig) -> None:
        super().__init__(config)
        self._con: Any = None

    # --- connection -------------------------------------------------------------
    def _where(self) -> str:
        c = self.config
        at = f" at {c.host}:{c.port or 443}" if c.host else ""
        return f"warehouse '{self.name}' (snowflake account {c.account}{at}, database {c.database})"

    def _scrub(self, message: str) -> str:
        for secret in (self.config.password, self.config.private_key_passphrase):
            if secret:
                message = message.replace(secret, "***")
        return message.strip()

    def connect(self) -> None:
        import snowflake.connector

        if self._con is not None:
            return
        c = self.config
        kwargs: dict[str, Any] = {
            "account": c.account,
            "user": c.user,
            "database": c.database,
            "login_timeout": max(1, math.ceil(c.connect_timeout)),
            "session_parameters": {
                "STATEMENT_TIMEOUT_IN_SECONDS": max(1, math.ceil(c.statement_timeout)),
                "TIMEZONE": "UTC",
                "QUERY_TAG": "tidegauge",
            },
        }
        optional = {
            "password": c.password,
            "role": c.role,
            "warehouse": c.warehouse,
            "host": c.host,
            "port": c.port,
            "protocol": c.protocol,
            "private_key_file": c.private_key_path,
            "private_key_file_pwd": c.private_key_passphrase,
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        if c.private_key_path:
            kwargs["authenticator"] = "SNOWFLAKE_JWT"
        try:
            self._con = snowflake.connector.connect(**kwargs)
        except snowflake.connector.errors.Error as e:
            message = f"{self._where()}: cannot connect: {self._describe(e)}"
            raise ConnectionFailed(message) from None

    def close(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None

    def _describe(self, e: Exception) -> str:
        message = getattr(e, "msg", None) or str(e)
        return self._scrub(str(message).splitlines()[0])

    def _execute_sql(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]], int | None]:
        import snowflake.connector

        self.connect()
        cur = self._con.cursor()
        try:
            cur.execute(sql)
            rows = cur.fetchall() if cur.description else []
            cols = [d[0] for d in cur.description] if cur.description else []
        except snowflake.connector.errors.Error as e:
            raise self._map_error(e) from None
        finally:
            cur.close()
        return cols, [tuple(r) for r in rows], None

    def _map_error(self, e: Exception) -> WarehouseError:
        import snowflake.connector

        code = getattr(e, "errno", None)
        detail = self._describe(e)
        if code in _TIMEOUT:
            return WarehouseError(
                f"{self._where()}: query cancelled after the statement timeout of "
                f"{self.config.statement_timeout:g}s: {detail}"
            )
        if code in _MISSING:
            return ObjectMissing(f"{self._where()}: {detail}")
        if code in _DENIED:
            return PermissionDenied(f"{self._where()}: {detail}")
        if code in _CONNECT or isinstance(e, snowflake.connector.errors.OperationalError):
            self.close()
            return ConnectionFailed(f"{self._where()}: connection lost: {detail}")
        return WarehouseError(f"{self._where()}: {detail}")

    # --- metadata ---------------------------------------------------------------
    def _schema_filter(self, q: exp.Select) -> exp.Select:
        q = q.where(_col("table_schema").neq(exp.Literal.string("INFORMATION_SCHEMA")))
        if self.config.schemas:
            q = q.where(
                _col("table_schema").isin(*[exp.Literal.string(s) for s in self.config.schemas])
            )
        return q

    def list_tables(self) -> list[TableInfo]:
        # information_schema.tables lists views too (TABLE_TYPE 'VIEW'); take them from
        # information_schema.views so that both real Snowflake and emulators agree.
        tables = self._schema_filter(
            exp.select(
                _alias(_col("table_schema"), "schema"),
                _alias(_col("table_name"), "name"),
                _alias(exp.Literal.string("table"), "kind"),
                _alias(_col("row_count"), "row_count"),
                _alias(_col("bytes"), "bytes"),
                _alias(_col("last_altered"), "last_modified"),
            )
            .from_(exp.table_("tables", db="information_schema"))
            .where(_col("table_type").neq(exp.Literal.string("VIEW")))
        )
        views = self._schema_filter(
            exp.select(
                _alias(_col("table_schema"), "schema"),
                _alias(_col("table_name"), "name"),
                _alias(exp.Literal.string("view"), "kind"),
                _alias(exp.null(), "row_count"),
                _alias(exp.null(), "bytes"),
                _alias(exp.null(), "last_modified"),
            ).from_(exp.table_("views", db="information_schema"))
        )
        rows = self.execute(exp.union(tables, views, distinct=False), comment="discover").dicts()
        columns = self._schema_filter(
            exp.select(
                _alias(_col("table_schema"), "table_schema"),
                _alias(_col("table_name"), "table_name"),
                _alias(_col("column_name"), "column_name"),
                _alias(_col("data_type"), "data_type"),
                _alias(_col("numeric_precision"), "numeric_precision"),
                _alias(_col("numeric_scale"), "numeric_scale"),
                _alias(_col("is_nullable"), "is_nullable"),
                _alias(_col("ordinal_position"), "ordinal_position"),
            ).from_(exp.table_("columns", db="information_schema"))
        ).order_by("table_schema", "table_name", "ordinal_position")
        col_rows = self.execute(columns, comment="discover columns").dicts()
        for r in col_rows:
            # information_schema says NUMBER for integers and decimals alike
            if str(r["data_type"]).upper() == "NUMBER" and r["numeric_precision"] is not None:
                r["data_type"] = f"NUMBER({r['numeric_precision']},{r['numeric_scale'] or 0})"
        return [_with_number_families(t) for t in self.build_tables(rows, col_rows)]

    def openlineage_dataset(self, ref: TableRef) -> tuple[str, str]:
        from tidegauge.core import openlineage_naming

        c = self.config
        return openlineage_naming.snowflake(
            c.account, ref.database or c.database, ref.schema, ref.name
        )

    def view_definitions(self) -> dict[TableRef, str]:
        q = self._schema_filter(
            exp.select(
                _alias(_col("table_schema"), "schema"),
                _alias(_col("table_name"), "name"),
                _alias(_col("view_definition"), "definition"),
            ).from_(exp.table_("views", db="information_schema"))
        )
        return {
            TableRef(self.name, str(r["schema"]), str(r["name"])): str(r["definition"])
            for r in self.execute(q, comment="view definitions").dicts()
            if r["definition"] is not None
        }


def _with_number_families(table: TableInfo) -> TableInfo:
    columns = tuple(
        dataclasses.replace(c, family=column_family(c.data_type)) for c in table.columns
    )
    return dataclasses.replace(table, columns=columns)

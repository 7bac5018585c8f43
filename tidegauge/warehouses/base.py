"""The contract every warehouse adapter fulfils.

An adapter knows how to connect, what its engine's metadata looks like, and which
dialect sqlglot should render queries in. Everything else (which metrics, which
buckets) is built in ``core`` as sqlglot expressions and only rendered here.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, ClassVar, cast
from urllib.parse import urlparse

import sqlglot
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlglot import exp

from tidegauge.core.clock import check_zone
from tidegauge.core.metrics import Capabilities
from tidegauge.core.model import ColumnInfo, TableInfo, TableKind, TableRef, TypeFamily

log = logging.getLogger("tidegauge.warehouses")


class WarehouseError(Exception):
    """A warehouse could not answer. The message names the warehouse and the object."""


class ConnectionFailed(WarehouseError):
    """The warehouse is unreachable or rejected the credentials."""


class ObjectMissing(WarehouseError):
    """A table or column disappeared (dropped between discovery and query)."""


class PermissionDenied(WarehouseError):
    """The configured user may not read this object."""


class WarehouseConfigBase(BaseModel):
    """Settings every warehouse shares."""

    model_config = ConfigDict(extra="forbid")

    #: the engine: module name = config ``type:`` = entry-point name (``Literal`` in each)
    type: str
    name: str = "main"
    include: list[str] = Field(default_factory=lambda: ["*"], description="schema.table globs")
    exclude: list[str] = Field(default_factory=list, description="schema.table globs")
    connect_timeout: float = Field(10.0, description="seconds")
    statement_timeout: float = Field(300.0, description="seconds per query")
    timezone: str = Field(
        "UTC",
        description="zone of naive timestamps in this warehouse (IANA name such as "
        "Europe/Berlin, or an offset such as +05:30); they are converted to UTC, and hour and "
        "day buckets stay UTC hours and days. Columns with a time zone are unaffected.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)


@dataclass
class QueryResult:
    """Rows of one query plus what it cost."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str
    seconds: float
    bytes_scanned: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=False)) for r in self.rows]


SYSTEM_SCHEMAS = frozenset(
    {
        "information_schema",
        "pg_catalog",
        "pg_toast",
        "mysql",
        "performance_schema",
        "sys",
    }
)


def matches(ref: TableRef, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Glob filter on ``schema.table`` (a pattern without a dot matches schemas)."""

    def hit(pattern: str) -> bool:
        p = pattern.lower()
        if "." not in p:
            return fnmatchcase(ref.schema.lower(), p)
        return fnmatchcase(ref.fqn.lower(), p)

    if include and not any(hit(p) for p in include):
        return False
    return not any(hit(p) for p in exclude)


_FAMILY_BY_TYPE: dict[Any, TypeFamily] = {}  # sqlglot DataType.Type → family


def _register(family: TypeFamily, types: Iterable[Any]) -> None:
    for t in types:
        _FAMILY_BY_TYPE[t] = family


_T = exp.DataType.Type
_register(TypeFamily.INTEGER, exp.DataType.INTEGER_TYPES)
_register(TypeFamily.FLOAT, exp.DataType.REAL_TYPES)
_register(TypeFamily.DECIMAL, [_T.DECIMAL, _T.BIGDECIMAL, _T.MONEY, _T.SMALLMONEY, _T.UDECIMAL])
_register(TypeFamily.STRING, exp.DataType.TEXT_TYPES)
_register(TypeFamily.STRING, [_T.ENUM, _T.UUID, _T.CHAR, _T.NCHAR, _T.NAME])
_register(TypeFamily.BOOLEAN, [_T.BOOLEAN])
_register(TypeFamily.DATE, [_T.DATE, _T.DATE32])
_register(
    TypeFamily.TIMESTAMP,
    [t for t in exp.DataType.TEMPORAL_TYPES if t not in (_T.DATE, _T.DATE32, _T.TIME, _T.TIMETZ)],
)
_register(TypeFamily.TIME, [_T.TIME, _T.TIMETZ])
_register(TypeFamily.JSON, [_T.JSON, _T.JSONB, _T.VARIANT, _T.OBJECT])
_register(TypeFamily.ARRAY, [_T.ARRAY, _T.LIST])
_register(TypeFamily.STRUCT, [_T.STRUCT, _T.MAP, _T.UNION])
_register(TypeFamily.INTERVAL, [_T.INTERVAL])
_register(TypeFamily.GEOMETRY, [_T.GEOMETRY, _T.GEOGRAPHY])
_register(TypeFamily.BINARY, [_T.BINARY, _T.VARBINARY, _T.BLOB, _T.LONGBLOB, _T.MEDIUMBLOB])
# sqlglot counts DECIMAL among REAL_TYPES; keep it a decimal.
_register(TypeFamily.DECIMAL, [_T.DECIMAL, _T.BIGDECIMAL])


@lru_cache(maxsize=4096)  # a warehouse repeats a few dozen type names over 10,000 tables
@lru_cache(maxsize=4096)
def type_family(data_type: str, dialect: str) -> TypeFamily:
    """Classify an engine type name with sqlglot's type parser.

    Cached: parsing a type takes tens of microseconds, and discovery classifies every
    column of every table (30,000 columns of a handful of types at 10,000 tables).

    >>> type_family("TIMESTAMP WITH TIME ZONE", "postgres")
    <TypeFamily.TIMESTAMP: 'timestamp'>
    """
    text = data_type.strip()
    low = text.lower()
    if low.endswith("[]"):
        return TypeFamily.ARRAY
    if low in ("tinyint(1)", "bool", "boolean"):
        return TypeFamily.BOOLEAN
    try:
        dt = exp.DataType.build(text, dialect=dialect)
    except Exception:  # sqlglot raises several parse error types for exotic names
        dt = None
    if dt is None or dt.this == _T.USERDEFINED:
        if "json" in low:
            return TypeFamily.JSON
        if "char" in low or "text" in low or "string" in low:
            return TypeFamily.STRING
        if "time" in low:
            return TypeFamily.TIMESTAMP
        return TypeFamily.OTHER
    return _FAMILY_BY_TYPE.get(dt.this, TypeFamily.OTHER)


class Warehouse(ABC):
    """One connection to one warehouse. Subclasses set ``DIALECT`` and the capabilities.

    Adapters override only what differs between engines: connecting, the metadata
    queries, and how a driver reports errors.
    """

    DIALECT: ClassVar[str]
    #: the pydantic model of this engine's ``warehouses:`` entry (``type: Literal[...]``)
    CONFIG: ClassVar[type[WarehouseConfigBase]]
    #: the driver module a worker imports before it forks its pool (fan-out)
    DRIVER_MODULE: ClassVar[str | None] = None
    #: URL schemes that name this engine (``tidegauge init --warehouse <url>``)
    URL_SCHEMES: ClassVar[tuple[str, ...]] = ()
    #: the environment variable a URL's password is replaced by in a written project file
    PASSWORD_ENV: ClassVar[str] = "WAREHOUSE_PASSWORD"
    #: what the engine can do, read by core's query builders (quantile style, limits,
    #: approximate distinct, COUNT_IF, grouping sets, zoned types); ``zone`` comes from
    #: the config at :meth:`capabilities`
    CAPABILITIES: ClassVar[Capabilities]
    #: last-modified time available from metadata without a scan
    METADATA_FRESHNESS: ClassVar[bool] = False
    #: exact (or good) row counts available from metadata without a scan
    METADATA_ROW_COUNT: ClassVar[bool] = False
    #: functions user SQL may call here besides the standard ones
    #: (:data:`tidegauge.core.sql_guard.STANDARD_FUNCTIONS`); pure computations only, never
    #: one that reads files, changes settings or reaches other servers
    SQL_FUNCTIONS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: WarehouseConfigBase) -> None:
        self.config = config
        self.name = config.name
        self._declared_keys: dict[tuple[str, str], frozenset[str]] | None = None

    @classmethod
    def entry_from_url(cls, url: str) -> dict[str, object]:
        """A ``warehouses:`` entry for ``url``; a password becomes ``${PASSWORD_ENV}`` so
        that no secret is written into the project file."""
        parsed = urlparse(url)
        entry: dict[str, object] = {"name": "main", "type": cls.CONFIG.model_fields["type"].default}
        if parsed.password:
            netloc = f"{parsed.username}:${{{cls.PASSWORD_ENV}}}@{parsed.hostname}"
            if parsed.port:
                netloc += f":{parsed.port}"
            entry["url"] = parsed._replace(netloc=netloc).geturl()
        else:
            entry["url"] = url
        return entry

    def capabilities(self) -> Capabilities:
        """This warehouse's :attr:`CAPABILITIES` in the zone of its naive timestamps (made
        once per warehouse: the collector asks for them for every table)."""
        base, zone = self.CAPABILITIES, self.config.timezone
        made = self.__dict__.get("_capabilities")
        if made is None or made[0] is not base or made[1] != zone:
            made = self.__dict__["_capabilities"] = (base, zone, replace(base, zone=zone))
        caps: Capabilities = made[2]
        return caps

    # --- connection -------------------------------------------------------------
    @abstractmethod
    def connect(self) -> None:
        """Open the connection (read-only where the engine allows)."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection; safe to call twice."""

    def __enter__(self) -> Warehouse:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def _execute_sql(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]], int | None]:
        """Run one statement; return column names, rows and bytes scanned if known."""

    # --- queries ----------------------------------------------------------------
    def render(
        self, query: exp.Expression, *, comment: str | None = None, copy: bool = True
    ) -> str:
        """Render a sqlglot expression in this engine's dialect, with a leading comment.

        ``copy=False`` lets sqlglot render ``query`` in place instead of deep-copying it
        first: for a query built for this one statement and not used again (the counting
        statements of 100 tables each cost as much to copy as to render)."""
        sql = query.sql(dialect=self.DIALECT, copy=copy)
        if comment:
            # PostgreSQL and DuckDB nest block comments: neither closes nor opens one
            safe = comment.replace("*/", "* /").replace("/*", "/ *")
            sql = f"/* tidegauge: {safe} */ {sql}"
        return sql

    def execute(
        self, query: exp.Expression, *, comment: str | None = None, copy: bool = True
    ) -> QueryResult:
        """Run a query built as a sqlglot expression and time it (``copy``: see
        :meth:`render`)."""
        sql = self.render(query, comment=comment, copy=copy)
        start = time.perf_counter()
        columns, rows, scanned = self._execute_sql(sql)
        return QueryResult(columns, rows, sql, time.perf_counter() - start, scanned)

    def parse(self, sql: str) -> exp.Expression:
        """Parse SQL text in this engine's dialect (custom SQL monitors)."""
        parsed = sqlglot.parse_one(sql, dialect=self.DIALECT)
        if parsed is None:
            raise WarehouseError("empty SQL statement")
        return cast(exp.Expression, parsed)

    # --- metadata ---------------------------------------------------------------
    def table_expression(self, ref: TableRef) -> exp.Table:
        """A fully quoted table reference; identifiers are never spliced as text.

        Built node by node: ``exp.table_`` deep-copies each identifier it is given, and at
        10,000 tables those copies cost more than the metadata queries."""
        return exp.Table(
            this=exp.Identifier(this=ref.name, quoted=True),
            db=exp.Identifier(this=ref.schema, quoted=True),
            catalog=exp.Identifier(this=ref.database, quoted=True) if ref.database else None,
        )

    def information_schema_columns(self, schemas: Sequence[str] | None = None) -> exp.Select:
        """``information_schema.columns`` for user schemas, as a sqlglot query."""
        q = (
            exp.select(
                "table_schema",
                "table_name",
                "column_name",
                "data_type",
                "is_nullable",
                "ordinal_position",
            )
            .from_("information_schema.columns")
            .order_by("table_schema", "table_name", "ordinal_position")
        )
        if schemas:
            q = q.where(exp.column("table_schema").isin(*[exp.Literal.string(s) for s in schemas]))
        return q

    def declared_keys_query(self) -> exp.Select:
        """Columns of PRIMARY KEY and UNIQUE constraints (ANSI ``information_schema``)."""
        return (
            exp.select("tc.table_schema", "tc.table_name", "tc.constraint_name", "kcu.column_name")
            .from_(exp.table_("table_constraints", db="information_schema", alias="tc"))
            .join(
                exp.table_("key_column_usage", db="information_schema", alias="kcu"),
                on=exp.and_(
                    exp.column("constraint_name", "kcu").eq(exp.column("constraint_name", "tc")),
                    exp.column("table_schema", "kcu").eq(exp.column("table_schema", "tc")),
                    exp.column("table_name", "kcu").eq(exp.column("table_name", "tc")),
                ),
            )
            .where(
                exp.column("constraint_type", "tc").isin(
                    exp.Literal.string("PRIMARY KEY"), exp.Literal.string("UNIQUE")
                )
            )
        )

    def key_columns(self, ref: TableRef) -> frozenset[str]:
        """Columns (lower case) that alone are a declared primary key or unique constraint.

        Read once per connection for every table. An engine whose metadata cannot say
        returns nothing (logged): keys then come from configuration and dbt tests only.
        """
        if self._declared_keys is None:
            self._declared_keys = {}
            try:
                rows = self.execute(self.declared_keys_query(), comment="declared keys").rows
            except WarehouseError as e:
                log.warning("warehouse '%s': declared keys not readable: %s", self.name, e)
                rows = []
            parts: dict[tuple[str, str, str], list[str]] = {}
            for schema, table, constraint, column in rows:
                key = (str(schema).lower(), str(table).lower(), str(constraint))
                parts.setdefault(key, []).append(str(column).lower())
            for (schema, table, _), columns in parts.items():
                if len(columns) == 1:  # a composite key says nothing about one column
                    found = self._declared_keys.get((schema, table), frozenset())
                    self._declared_keys[(schema, table)] = found | {columns[0]}
        return self._declared_keys.get((ref.schema.lower(), ref.name.lower()), frozenset())

    @abstractmethod
    def list_tables(self) -> list[TableInfo]:
        """Every table and view the configured user can see, with metadata statistics.

        Columns are filled in, and include/exclude globs are applied.
        """

    def build_tables(
        self,
        rows: Iterable[dict[str, Any]],
        column_rows: Iterable[dict[str, Any]],
        *,
        database: str | None = None,
    ) -> list[TableInfo]:
        """Assemble ``TableInfo`` objects from metadata rows (shared by most adapters).

        ``rows`` carry keys schema, name, kind, and optionally row_count, bytes,
        last_modified; ``column_rows`` carry the information_schema columns.
        """
        cols: dict[tuple[str, str], list[ColumnInfo]] = {}
        for c in column_rows:
            key = (str(c["table_schema"]), str(c["table_name"]))
            cols.setdefault(key, []).append(
                ColumnInfo(
                    name=str(c["column_name"]),
                    data_type=str(c["data_type"]),
                    family=type_family(str(c["data_type"]), self.DIALECT),
                    nullable=str(c.get("is_nullable", "YES")).upper() in ("YES", "TRUE", "1"),
                    ordinal=int(c.get("ordinal_position") or 0),
                )
            )
        out: list[TableInfo] = []
        for r in rows:
            schema, name = str(r["schema"]), str(r["name"])
            if schema.lower() in SYSTEM_SCHEMAS:
                continue
            ref = TableRef(self.name, schema, name, database)
            if not matches(ref, self.config.include, self.config.exclude):
                continue
            kind = TableKind.VIEW if "view" in str(r.get("kind", "")).lower() else TableKind.TABLE
            out.append(
                TableInfo(
                    ref=ref,
                    kind=kind,
                    row_count=_int_or_none(r.get("row_count")),
                    bytes=_int_or_none(r.get("bytes")),
                    last_modified=_utc(r.get("last_modified")),
                    columns=tuple(sorted(cols.get((schema, name), []), key=lambda c: c.ordinal)),
                )
            )
        return sorted(out, key=lambda t: t.ref)

    def openlineage_dataset(self, ref: TableRef) -> tuple[str, str]:
        """OpenLineage ``(namespace, name)`` of a table, per the spec's naming for the engine
        (:mod:`tidegauge.core.openlineage_naming`); engines the spec lacks keep ours."""
        return f"tidegauge://{self.name}", ".".join(
            p for p in (ref.database, ref.schema, ref.name) if p
        )

    def view_definitions(self) -> dict[TableRef, str]:
        """SQL of every view, for lineage. Engines without it return nothing."""
        return {}

    def query_history(self, limit: int = 5000) -> list[str]:
        """Recent statements that write tables (CTAS, INSERT…SELECT, MERGE), for lineage.

        Engines that expose no query history return nothing.
        """
        return []

    @contextmanager
    def session(self) -> Iterator[Warehouse]:
        self.connect()
        try:
            yield self
        finally:
            self.close()


def _int_or_none(v: Any) -> int | None:
    if v is None:
        return None
    try:
        n = int(v)
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def _utc(v: Any) -> datetime | None:
    if v is None or not isinstance(v, datetime):
        return None
    when: datetime = v
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)

"""One fixture, every engine: the shared multi-engine test harness.

Use it from any test module::

    from tests.engines import engine, seed_standard  # noqa: F401  (engine is a fixture)

    def test_counts(engine):
        orders = seed_standard(engine)["orders"]
        count = exp.select(exp.func("count", exp.Star())).from_(engine.table("orders"))
        result = engine.warehouse.execute(count)
        assert result.rows[0][0] == STANDARD_ORDERS

``engine`` is parametrized over ``duckdb``, ``postgres``, ``mysql`` (MariaDB) and
``snowflake`` (fakesnow, in-process DuckDB behind ``snowflake.connector.connect``).
Each test gets a fresh, uniquely named schema (a database on MySQL) that is dropped
afterwards, a connected read-only adapter in ``engine.warehouse``, and ``engine.seed``,
which creates and fills a table through a separate *writable* admin connection. All DDL
and INSERTs are sqlglot expressions rendered in the engine's dialect.

Portable column types for ``seed``: ``int bigint float decimal text bool timestamp date
json``.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from tests.servers import MYSQL_URL, POSTGRES_URL, require_server
from tidegauge.core.model import TableRef
from tidegauge.warehouses.base import Warehouse, WarehouseConfigBase
from tidegauge.warehouses.registry import open_warehouse

KINDS = ("duckdb", "postgres", "mysql", "snowflake")

#: portable type → sqlglot type; rendered per dialect (``timestamp`` is DATETIME on MySQL,
#: ``json`` is VARIANT on Snowflake, ``text`` is VARCHAR on Snowflake)
PORTABLE_TYPES: dict[str, str] = {
    "int": "INT",
    "bigint": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(12, 2)",
    "text": "TEXT",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "json": "JSON",
}

SNOWFLAKE_DATABASE = "TIDEGAUGE"


class Admin:
    """A writable connection beside the read-only adapter (DB-API underneath)."""

    def __init__(self, dialect: str, connect: Callable[[], Any], *, exclusive: bool = False):
        self.dialect = dialect
        self._connect = connect
        self._con: Any = None
        #: DuckDB cannot hold a writer and a read-only reader on one file in one
        #: process: the admin connection then lives only for each call.
        self.exclusive = exclusive

    def run(self, *statements: exp.Expression | str) -> None:
        if self._con is None:
            self._con = self._connect()
        cur = self._con.cursor()
        try:
            for statement in statements:
                sql = statement if isinstance(statement, str) else statement.sql(self.dialect)
                cur.execute(sql)
        finally:
            cur.close()
        if self.exclusive:
            self.close()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


@dataclass
class Engine:
    """What a test sees: a read-only adapter, its fresh schema and a way to seed it."""

    kind: str
    warehouse: Warehouse
    schema: str
    admin: Admin
    config: WarehouseConfigBase
    _extra: list[Warehouse] = field(default_factory=list)

    @property
    def dialect(self) -> str:
        return self.warehouse.DIALECT

    def ref(self, name: str) -> TableRef:
        return TableRef(self.warehouse.name, self.schema, name)

    def table(self, name: str) -> exp.Table:
        """The quoted sqlglot table for ``name`` in the test schema."""
        return self.warehouse.table_expression(self.ref(name))

    def admin_run(self, *statements: exp.Expression | str) -> None:
        """Run DDL/DML through the writable connection (the adapter is read-only)."""
        if self.admin.exclusive:
            self.warehouse.close()  # reconnects on its next query
        self.admin.run(*statements)

    def seed(
        self,
        name: str,
        columns: dict[str, str],
        rows: Sequence[Sequence[Any]] = (),
    ) -> TableRef:
        """Create ``schema.name`` with portable ``columns`` and insert ``rows``."""
        defs = [
            exp.ColumnDef(
                this=exp.to_identifier(col, quoted=True),
                kind=exp.DataType.build(PORTABLE_TYPES[portable]),
            )
            for col, portable in columns.items()
        ]
        create = exp.Create(
            this=exp.Schema(this=self.table(name), expressions=defs),
            kind="TABLE",
        )
        statements: list[exp.Expression] = [create]
        types = list(columns.values())
        for chunk in _chunks(list(rows), 500):
            literals = [
                tuple(self.literal(v, t) for v, t in zip(row, types, strict=True)) for row in chunk
            ]
            values = exp.values(literals)
            statements.append(
                exp.insert(
                    values,
                    self.table(name),
                    columns=[exp.to_identifier(c, quoted=True) for c in columns],
                )
            )
        self.admin_run(*statements)
        return self.ref(name)

    def create_view(self, name: str, query: exp.Select) -> TableRef:
        self.admin_run(exp.Create(this=self.table(name), kind="VIEW", expression=query))
        return self.ref(name)

    def drop(self, name: str, *, view: bool = False) -> None:
        self.admin_run(exp.Drop(tables=[self.table(name)], kind="VIEW" if view else "TABLE"))

    def connect(self, **overrides: Any) -> Warehouse:
        """Another adapter on the same engine with config ``overrides`` (closed at teardown)."""
        wh = open_warehouse(self.config.model_copy(update=overrides))
        self._extra.append(wh)
        return wh

    def literal(self, value: Any, portable: str) -> exp.Expression:
        if value is None:
            return exp.null()
        if portable == "json":
            text = exp.Literal.string(json.dumps(value))
            # a string is not a VARIANT object on Snowflake
            return exp.ParseJSON(this=text) if self.kind == "snowflake" else text
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, int | float | Decimal):
            return exp.Literal.number(str(value))
        if isinstance(value, datetime):
            return exp.Literal.string(value.isoformat(sep=" "))
        if isinstance(value, date):
            return exp.Literal.string(value.isoformat())
        return exp.Literal.string(str(value))

    def close(self) -> None:
        for wh in [*self._extra, self.warehouse]:
            wh.close()


def _chunks(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def unique_schema() -> str:
    return f"tgtest_{uuid.uuid4().hex[:10]}"


# --- per-engine setup ---------------------------------------------------------------
@contextlib.contextmanager
def open_engine(kind: str, tmp_path: Path) -> Iterator[Engine]:
    """Create a fresh schema on ``kind`` and yield a connected :class:`Engine`."""
    schema = unique_schema()
    setups = {
        "duckdb": _duckdb,
        "postgres": _postgres,
        "mysql": _mysql,
        "snowflake": _snowflake,
    }
    with setups[kind](schema, tmp_path) as eng:
        try:
            eng.warehouse.connect()
            yield eng
        finally:
            eng.close()


def _create_schema(schema: str, kind: str = "SCHEMA") -> exp.Create:
    return exp.Create(this=exp.Table(this=exp.to_identifier(schema, quoted=True)), kind=kind)


def _drop_schema(schema: str, kind: str = "SCHEMA", cascade: bool = True) -> exp.Drop:
    return exp.Drop(
        tables=[exp.Table(this=exp.to_identifier(schema, quoted=True))],
        kind=kind,
        exists=True,
        cascade=cascade,
    )


@contextlib.contextmanager
def _duckdb(schema: str, tmp_path: Path) -> Iterator[Engine]:
    import duckdb

    path = str(tmp_path / "warehouse.duckdb")
    admin = Admin("duckdb", lambda: duckdb.connect(path), exclusive=True)
    admin.run(_create_schema(schema))
    config = _config({"type": "duckdb", "name": "test", "path": path, "include": [schema]})
    yield Engine("duckdb", open_warehouse(config), schema, admin, config)
    # the file lives in tmp_path and goes with it


@contextlib.contextmanager
def _postgres(schema: str, tmp_path: Path) -> Iterator[Engine]:
    import psycopg

    require_server("postgres")
    admin = Admin("postgres", lambda: psycopg.connect(POSTGRES_URL, autocommit=True))
    admin.run(_create_schema(schema))
    config = _config({"type": "postgres", "name": "test", "url": POSTGRES_URL, "include": [schema]})
    try:
        yield Engine("postgres", open_warehouse(config), schema, admin, config)
    finally:
        admin.run(_drop_schema(schema))
        admin.close()


@contextlib.contextmanager
def _mysql(schema: str, tmp_path: Path) -> Iterator[Engine]:
    import pymysql  # type: ignore[import-untyped]  # no stubs in the environment

    from tidegauge.warehouses.mysql import MySQLWarehouseConfig

    require_server("mysql")
    target = MySQLWarehouseConfig(url=MYSQL_URL)

    def connect() -> Any:
        return pymysql.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password or "",
            database=target.database,
            charset="utf8mb4",
            autocommit=True,
        )

    admin = Admin("mysql", connect)
    admin.run(_create_schema(schema, "DATABASE"))
    config = _config({"type": "mysql", "name": "test", "url": MYSQL_URL, "include": [schema]})
    try:
        yield Engine("mysql", open_warehouse(config), schema, admin, config)
    finally:
        admin.run(_drop_schema(schema, "DATABASE", cascade=False))
        admin.close()


@contextlib.contextmanager
def _snowflake(schema: str, tmp_path: Path) -> Iterator[Engine]:
    import fakesnow
    import snowflake.connector

    with fakesnow.patch():
        admin = Admin(
            "snowflake",
            lambda: snowflake.connector.connect(
                account="fakesnow", user="admin", password="admin", database=SNOWFLAKE_DATABASE
            ),
        )
        admin.run(_create_schema(schema))
        config = _config(
            {
                "type": "snowflake",
                "name": "test",
                "account": "fakesnow",
                "user": "tidegauge",
                "password": "unused",
                "database": SNOWFLAKE_DATABASE,
                "schemas": [schema],
            }
        )
        try:
            yield Engine("snowflake", open_warehouse(config), schema, admin, config)
        finally:
            admin.close()


def _config(data: dict[str, Any]) -> WarehouseConfigBase:
    from pydantic import TypeAdapter

    from tidegauge.config import WarehouseConfig

    config: WarehouseConfigBase = TypeAdapter(WarehouseConfig).validate_python(data)
    return config


ENGINE_PARAMS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
    pytest.param("snowflake", id="snowflake"),
]


@pytest.fixture(params=ENGINE_PARAMS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A connected read-only adapter on a fresh schema, for each engine."""
    with open_engine(request.param, tmp_path) as eng:
        yield eng


# --- the standard tables -------------------------------------------------------------
STANDARD_ORDERS = 120
ORDERS_COLUMNS = {
    "id": "int",
    "customer_id": "bigint",
    "amount": "float",
    "total": "decimal",
    "status": "text",
    "note": "text",
    "is_gift": "bool",
    "created_at": "timestamp",
    "order_date": "date",
    "payload": "json",
}
STATUSES = ("paid", "shipped", "cancelled")
#: the table whose every identifier needs quoting somewhere
NASTY_TABLE = "Order Items"
NASTY_COLUMNS = {
    "select": "int",
    "prix_€": "decimal",
    "MixedCase": "text",
    # not text: fakesnow splices text column names into its own SQL unescaped
    'it\'s "quoted"': "int",
}
QUOTED_TABLE = 'Kunden "VIP" ünï'
EMPTY_TABLE = "empty_table"
VIEW = "paid_orders"


def orders_rows(n: int = STANDARD_ORDERS) -> list[tuple[Any, ...]]:
    """Deterministic orders: every 10th amount NULL, every 7th note NULL."""
    start = datetime(2024, 1, 1, 0, 0, 0)
    rows = []
    for i in range(1, n + 1):
        created = start + timedelta(hours=i)
        rows.append(
            (
                i,
                1000 + i % 17,
                None if i % 10 == 0 else round(i * 1.5, 2),
                Decimal(f"{i}.25"),
                STATUSES[i % 3],
                None if i % 7 == 0 else f"note-{i:04d}",
                i % 4 == 0,
                created,
                created.date(),
                {"i": i, "tags": ["a", "b"]} if i % 5 else None,
            )
        )
    return rows


def seed_standard(engine: Engine) -> dict[str, TableRef]:
    """The same tables on every engine: orders, a nasty-names table, an empty one, a view."""
    refs = {
        "orders": engine.seed("orders", ORDERS_COLUMNS, orders_rows()),
        "nasty": engine.seed(
            NASTY_TABLE,
            NASTY_COLUMNS,
            [(1, Decimal("9.99"), "A", 7), (2, Decimal("0.01"), "B", None), (3, None, "A", 8)],
        ),
        "quoted": engine.seed(QUOTED_TABLE, {"id": "int"}, [(1,), (2,)]),
        "empty": engine.seed(EMPTY_TABLE, {"id": "int", "label": "text"}),
    }
    status = exp.column("status", quoted=True)
    view = (
        exp.select(exp.column("id", quoted=True), status, exp.column("total", quoted=True))
        .from_(engine.table("orders"))
        .where(status.eq(exp.Literal.string("paid")))
    )
    refs["view"] = engine.create_view(VIEW, view)
    return refs

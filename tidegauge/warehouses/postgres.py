"""PostgreSQL (psycopg 3).

Sessions are read-only (``default_transaction_read_only``) with a server-side
``statement_timeout``, both set as libpq startup options so that no statement can run
before they apply. Metadata comes from ``pg_catalog`` without touching table data.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

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
)


class PostgresWarehouseConfig(WarehouseConfigBase):
    """A PostgreSQL database: give ``url`` or the individual fields.

    ``url`` wins over the fields; its parts are percent-decoded and its query string
    may carry ``sslmode``.

    >>> c = PostgresWarehouseConfig(url="postgresql://bob:p%40ss@db.local:6543/shop")
    >>> (c.user, c.password, c.host, c.port, c.database)
    ('bob', 'p@ss', 'db.local', 6543, 'shop')
    """

    type: Literal["postgres"] = "postgres"
    url: str | None = Field(None, description="postgresql://user:password@host:port/database")
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str | None = None
    database: str = "postgres"
    sslmode: str | None = None

    @model_validator(mode="after")
    def _apply_url(self) -> PostgresWarehouseConfig:
        if not self.url:
            return self
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise ValueError(
                f"url scheme '{parts.scheme}' is not postgresql:// (expected "
                "postgresql://user:password@host:port/database)"
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
        query = dict(parse_qsl(parts.query))
        if "sslmode" in query:
            self.sslmode = query["sslmode"]
        return self


# pg_class.relkind values we list: ordinary, partitioned, view, materialized view, foreign.
_TABLE_KINDS = ("r", "p", "m", "f")
_VIEW_KINDS = ("v",)


def _col(name: str, table: str) -> exp.Column:
    return exp.column(name, table=table)


def _lit(*values: str) -> list[exp.Expression]:
    return [exp.Literal.string(v) for v in values]


def _alias(expression: exp.Expression, name: str) -> exp.Expr:
    return exp.alias_(expression, name, quoted=True)


def _user_schemas(nspname: exp.Column) -> exp.Expr:
    # Schema names starting with pg_ are reserved for the system (pg_catalog, pg_toast,
    # pg_temp_N, ...), so one LIKE excludes them all.
    return exp.and_(
        exp.not_(nspname.like(exp.Literal.string("pg\\_%"))),
        nspname.neq(exp.Literal.string("information_schema")),
    )


log = logging.getLogger("tidegauge.warehouses.postgres")

#: (host, port, database, user) whose write access was checked in this process
_ROLE_CHECKED: set[tuple[Any, ...]] = set()


def _lenient_text(con: Any) -> None:
    """A SQL_ASCII database hands back whatever bytes were stored (psycopg gives ``bytes``,
    which became ``b'...'`` names). Decode text as UTF-8, with surrogate escapes for bytes
    that are not, so such names can be recognised and reported; queries are then sent as
    the same bytes (:meth:`PostgresWarehouse._execute_sql`), so every name round-trips."""
    from psycopg.adapt import Loader

    class LenientText(Loader):
        def load(self, data: Any) -> str:
            return bytes(data).decode("utf-8", "surrogateescape")

    for name in ("text", "varchar", "name", "bpchar"):
        con.adapters.register_loader(name, LenientText)


#: a byte that is not UTF-8, as the driver's ``surrogateescape`` decoding leaves it
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _undecodable(*values: Any) -> bool:
    return any(isinstance(v, str) and _NOT_UTF8.search(v) is not None for v in values)


def _shown(value: Any) -> str:
    """A name with its non-UTF-8 bytes as ``\\xNN``."""
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class PostgresWarehouse(Warehouse):
    """PostgreSQL 12+.

    Capabilities:
      * quantiles: ``percentile_cont(ARRAY[...]) WITHIN GROUP`` is an ordinary aggregate
        returning every quantile at once.
      * TABLESAMPLE: ``TABLESAMPLE SYSTEM/BERNOULLI (percent)``.
      * approximate distinct: no; HyperLogLog needs an extension we cannot assume.
      * select items: a target list holds at most 1,664 entries; 1,600 leaves room for
        the bucket, segment and row count.
      * ``METADATA_ROW_COUNT``: no; ``n_live_tup`` / ``reltuples`` are estimates that lag
        behind loads (reltuples only moves on VACUUM/ANALYZE), good for sizing a scan
        but not for volume monitoring. ``TableInfo.row_count`` still carries the estimate.
      * ``METADATA_FRESHNESS``: no. PostgreSQL keeps no last-modified time per table (its
        vacuum/analyze times are maintenance; ``track_commit_timestamp`` is off by default
        and a table's latest commit means reading every row's xmin): a timestamp column.
    """

    DIALECT = "postgres"
    CONFIG = PostgresWarehouseConfig
    DRIVER_MODULE = "psycopg"
    URL_SCHEMES = ("postgresql", "postgres")
    PASSWORD_ENV = "PGPASSWORD"
    CAPABILITIES = Capabilities(
        "postgres",
        quantiles=True,
        tablesample=True,
        max_select_items=1600,
        quantile_style=QuantileStyle.ARRAY_WITHIN_GROUP,
        boolean_text=("true", "false"),
    )
    # not set_config/current_setting (session settings), pg_read_file/pg_ls_dir/lo_import
    # (server files), dblink (other servers), pg_sleep, nextval/setval (writes)
    SQL_FUNCTIONS = frozenset(
        [
            "regexp_match",
            "regexp_matches",
            "regexp_replace",
            "regexp_split_to_array",
            "to_char",
            "to_date",
            "to_timestamp",
            "to_number",
            "age",
            "date_bin",
            "justify_interval",
            "make_date",
            "make_timestamp",
            "array_length",
            "cardinality",
            "unnest",
            "string_to_array",
            "array_to_string",
            "md5",
            "btrim",
            "initcap",
            "translate",
            "jsonb_array_length",
            "json_array_length",
            "jsonb_typeof",
            "json_typeof",
            "width_bucket",
            "regr_slope",
            "corr",
            "covar_pop",
            "covar_samp",
            "isfinite",
        ]
    )
    METADATA_ROW_COUNT = False
    METADATA_FRESHNESS = False

    #: SQLSTATE classes → tidegauge errors (the rest is a plain WarehouseError)
    _MISSING_STATES: ClassVar[frozenset[str]] = frozenset(
        {"42P01", "42703", "3F000", "42883", "42704", "3D000"}
    )
    _DENIED_STATES: ClassVar[frozenset[str]] = frozenset({"42501"})

    config: PostgresWarehouseConfig

    def __init__(self, config: PostgresWarehouseConfig) -> None:
        super().__init__(config)
        self._con: Any = None
        self._raw_bytes = False  # a SQL_ASCII database: queries go out as bytes

    # --- connection -------------------------------------------------------------
    def _where(self) -> str:
        c = self.config
        return f"warehouse '{self.name}' (postgres at {c.host}:{c.port}/{c.database})"

    def _scrub(self, message: str) -> str:
        password = self.config.password
        if password:
            message = message.replace(password, "***")
        return message.strip()

    def connect(self) -> None:
        import psycopg

        if self._con is not None:
            return
        c = self.config
        timeout_ms = max(1, round(c.statement_timeout * 1000))
        # Startup options apply before the first statement and cannot be forgotten by
        # a pooled connection; the session stays read-only for every transaction.
        options = (
            f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms} -c TimeZone=UTC"
        )
        kwargs: dict[str, Any] = {
            "host": c.host,
            "port": c.port,
            "user": c.user,
            "dbname": c.database,
            # libpq takes whole seconds and treats anything below 2 as 2
            "connect_timeout": max(2, math.ceil(c.connect_timeout)),
            "options": options,
            "application_name": "tidegauge",
            # each query is its own transaction: no snapshot held across a run and
            # no idle-in-transaction session on the server
            "autocommit": True,
        }
        if c.password is not None:
            kwargs["password"] = c.password
        if c.sslmode:
            kwargs["sslmode"] = c.sslmode
        try:
            self._con = psycopg.connect(**kwargs)
        except psycopg.Error as e:
            message = f"{self._where()}: cannot connect: {self._scrub(str(e))}"
            raise ConnectionFailed(message) from None
        # SQL_ASCII: the server keeps and returns raw bytes, and converts nothing
        self._raw_bytes = self._con.info.encoding == "ascii"
        if self._raw_bytes:
            _lenient_text(self._con)
        key = (c.host, c.port, c.database, c.user)
        if key not in _ROLE_CHECKED:
            _ROLE_CHECKED.add(key)
            rights = self.write_access()
            if rights:
                log.warning(
                    "%s: the role %s can write (%s); tidegauge needs only SELECT. Connect "
                    "as a read-only role (see the README) so that no SQL can change data.",
                    self._where(),
                    c.user or "(default)",
                    ", ".join(rights),
                )

    def write_access(self) -> list[str]:
        """How the session's role could change data (empty for a read-only role).

        The session is read-only by default, but SQL in the session could turn that off;
        a role without write privileges cannot be talked out of being read-only.
        """
        _, rows, _ = self._execute_sql(
            "SELECT r.rolsuper, "
            "has_database_privilege(current_user, current_database(), 'CREATE'), "
            "EXISTS (SELECT 1 FROM information_schema.role_table_grants g "
            "WHERE g.grantee = current_user "
            "AND g.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')) "
            "FROM pg_roles r WHERE r.rolname = current_user"
        )
        if not rows:
            return []
        superuser, create, dml = rows[0]
        return [
            reason
            for flag, reason in (
                (superuser, "superuser"),
                (create, "CREATE on the database"),
                (dml, "INSERT/UPDATE/DELETE on tables"),
            )
            if flag
        ]

    def close(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None

    def _execute_sql(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]], int | None]:
        import psycopg

        self.connect()
        try:
            with self._con.cursor() as cur:
                cur.execute(sql.encode("utf-8", "surrogateescape") if self._raw_bytes else sql)
                rows = cur.fetchall() if cur.description else []
                cols = [d.name for d in cur.description] if cur.description else []
        except psycopg.Error as e:
            raise self._map_error(e) from None
        return cols, [tuple(r) for r in rows], None

    def _map_error(self, e: Exception) -> WarehouseError:
        import psycopg

        state = getattr(e, "sqlstate", None) or ""
        detail = self._scrub(str(e).splitlines()[0] if str(e) else type(e).__name__)
        if isinstance(e, psycopg.errors.QueryCanceled):
            return WarehouseError(
                f"{self._where()}: query cancelled after the statement timeout of "
                f"{self.config.statement_timeout:g}s: {detail}"
            )
        if state in self._MISSING_STATES:
            return ObjectMissing(f"{self._where()}: {detail}")
        if state in self._DENIED_STATES:
            return PermissionDenied(f"{self._where()}: {detail}")
        if state == "25006":
            return WarehouseError(f"{self._where()}: refused in a read-only session: {detail}")
        if isinstance(e, psycopg.OperationalError) and (
            self._con is None or self._con.closed or state.startswith("08")
        ):
            self.close()
            return ConnectionFailed(f"{self._where()}: connection lost: {detail}")
        return WarehouseError(f"{self._where()}: {detail}")

    # --- metadata ---------------------------------------------------------------
    def list_tables(self) -> list[TableInfo]:
        c, n, s = "c", "n", "s"
        relkind, reltuples, live = _col("relkind", c), _col("reltuples", c), _col("n_live_tup", s)
        has_stats = exp.or_(
            live.copy() > exp.Literal.number(0),
            *[
                exp.not_(exp.Is(this=_col(name, s), expression=exp.null()))
                for name in ("last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze")
            ],
        )
        # n_live_tup follows every committed insert/delete; reltuples only moves on
        # VACUUM/ANALYZE and is -1 until then (unknown, not zero).
        row_count = (
            exp.case()
            .when(relkind.copy().isin(*_lit(*_VIEW_KINDS)), exp.null())
            .when(has_stats, live.copy())
            .when(reltuples.copy() >= exp.Literal.number(0), exp.cast(reltuples, "bigint"))
            .else_(exp.null())
        )
        self.connect()
        size = size_expression(c, self._con.info.server_version)
        is_view = relkind.copy().isin(*_lit(*_VIEW_KINDS))
        kind = (
            exp.case().when(is_view, exp.Literal.string("view")).else_(exp.Literal.string("table"))
        )
        q = (
            exp.select(
                _alias(_col("nspname", n), "schema"),
                _alias(_col("relname", c), "name"),
                _alias(kind, "kind"),
                _alias(row_count, "row_count"),
                _alias(size, "bytes"),
            )
            .from_(exp.table_("pg_class", db="pg_catalog", alias=c))
            .join(
                exp.table_("pg_namespace", db="pg_catalog", alias=n),
                on=_col("oid", n).eq(_col("relnamespace", c)),
            )
            .join(
                exp.table_("pg_stat_user_tables", db="pg_catalog", alias=s),
                on=_col("relid", s).eq(_col("oid", c)),
                join_type="left",
            )
            .join(
                exp.table_("pg_class", db="pg_catalog", alias="t"),
                on=_col("oid", "t").eq(_col("reltoastrelid", c)),
                join_type="left",
            )
        )
        for alias, on in (("ih", _col("oid", c)), ("it", _col("reltoastrelid", c))):
            q = q.join(*_index_pages(alias, on), join_type="left")  # the table's, its TOAST's
        q = (
            q.where(relkind.copy().isin(*_lit(*_TABLE_KINDS, *_VIEW_KINDS)))
            # partitions are listed through their parent
            .where(exp.not_(_col("relispartition", c)))
            .where(_user_schemas(_col("nspname", n)))
        )
        rows = self.execute(q, comment="discover").dicts()
        columns, enums = self._columns()
        rows, columns = self._valid_names(rows, columns)
        tables = self.build_tables(rows, columns)
        return [_with_string_enums(t, enums) for t in tables]

    def _valid_names(
        self, rows: list[dict[str, Any]], columns: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Leave out (and name) tables and columns whose names are not UTF-8: a SQL_ASCII
        database stores any bytes, and such a name can be neither shown nor queried back."""
        bad = [r for r in rows if _undecodable(r["schema"], r["name"])]
        for r in bad:
            log.warning(
                "%s: table %s.%s is left out: its name is not valid UTF-8 (a SQL_ASCII "
                "database); rename it to monitor it",
                self._where(),
                _shown(r["schema"]),
                _shown(r["name"]),
            )
        bad_cols = [c for c in columns if _undecodable(c["column_name"])]
        for c in bad_cols:
            log.warning(
                "%s: column %s of %s.%s is left out: its name is not valid UTF-8",
                self._where(),
                _shown(c["column_name"]),
                _shown(c["table_schema"]),
                _shown(c["table_name"]),
            )
        if not bad and not bad_cols:
            return rows, columns
        return (
            [r for r in rows if not _undecodable(r["schema"], r["name"])],
            [
                c
                for c in columns
                if not _undecodable(c["table_schema"], c["table_name"], c["column_name"])
            ],
        )

    def _columns(self) -> tuple[list[dict[str, Any]], set[tuple[str, str, str]]]:
        """Columns from pg_attribute: ``format_type`` keeps ``integer[]``, ``numeric(12,2)``
        and the names of enum and domain types that information_schema flattens."""
        a, c, n, t = "a", "c", "n", "t"
        typtype = _col("typtype", t)
        data_type = (
            exp.case()
            .when(
                typtype.copy().eq(exp.Literal.string("d")),
                exp.func("format_type", _col("typbasetype", t), _col("typtypmod", t)),
            )
            .else_(exp.func("format_type", _col("atttypid", a), _col("atttypmod", a)))
        )
        nullable = (
            exp.case()
            .when(_col("attnotnull", a), exp.Literal.string("NO"))
            .else_(exp.Literal.string("YES"))
        )
        q = (
            exp.select(
                _alias(_col("nspname", n), "table_schema"),
                _alias(_col("relname", c), "table_name"),
                _alias(_col("attname", a), "column_name"),
                _alias(data_type, "data_type"),
                _alias(nullable, "is_nullable"),
                _alias(_col("attnum", a), "ordinal_position"),
                _alias(typtype, "typtype"),
            )
            .from_(exp.table_("pg_attribute", db="pg_catalog", alias=a))
            .join(
                exp.table_("pg_class", db="pg_catalog", alias=c),
                on=_col("oid", c).eq(_col("attrelid", a)),
            )
            .join(
                exp.table_("pg_namespace", db="pg_catalog", alias=n),
                on=_col("oid", n).eq(_col("relnamespace", c)),
            )
            .join(
                exp.table_("pg_type", db="pg_catalog", alias=t),
                on=_col("oid", t).eq(_col("atttypid", a)),
            )
            .where(_col("attnum", a) > exp.Literal.number(0))
            .where(exp.not_(_col("attisdropped", a)))
            .where(_col("relkind", c).isin(*_lit(*_TABLE_KINDS, *_VIEW_KINDS)))
            .where(_user_schemas(_col("nspname", n)))
            .order_by(_col("nspname", n), _col("relname", c), _col("attnum", a))
        )
        rows = self.execute(q, comment="discover columns").dicts()
        enums = {
            (str(r["table_schema"]), str(r["table_name"]), str(r["column_name"]))
            for r in rows
            if r["typtype"] == "e"
        }
        return rows, enums

    def openlineage_dataset(self, ref: TableRef) -> tuple[str, str]:
        from tidegauge.core import openlineage_naming

        c = self.config
        return openlineage_naming.postgres(
            c.host, c.port, ref.database or c.database, ref.schema, ref.name
        )

    def view_definitions(self) -> dict[TableRef, str]:
        # filtered in the statement: the system's ~100 views are not decompiled every run
        views, matviews = (
            exp.select(
                _alias(exp.column("schemaname"), "schema"),
                _alias(exp.column(name), "name"),
                _alias(exp.column("definition"), "definition"),
            )
            .from_(exp.table_(table, db="pg_catalog"))
            .where(_user_schemas(exp.column("schemaname")))
            for table, name in (("pg_views", "viewname"), ("pg_matviews", "matviewname"))
        )
        q = exp.union(views, matviews, distinct=False)
        return {
            TableRef(self.name, str(r["schema"]), str(r["name"])): str(r["definition"]).strip()
            for r in self.execute(q, comment="view definitions").dicts()
        }

    def query_history(self, limit: int = 5000) -> list[str]:
        """Statements that write tables, from ``pg_stat_statements`` when it is installed.

        CREATE TABLE AS, INSERT … SELECT and MERGE carry lineage that no view shows. The
        extension needs ``shared_preload_libraries``; without it there is simply no history.
        """
        probe = exp.select(
            exp.func("to_regclass", exp.Literal.string("pg_stat_statements")).as_("rel")
        )
        if self.execute(probe, comment="query history probe").rows[0][0] is None:
            return []
        text = exp.func("lower", exp.func("ltrim", exp.column("query")))
        writes = exp.or_(
            *(
                exp.Like(this=text.copy(), expression=exp.Literal.string(p))
                for p in (
                    "insert%",
                    "create table%",
                    "create unlogged table%",
                    "merge%",
                    "create or replace%",
                )
            )
        )
        q = (
            exp.select("query")
            .from_("pg_stat_statements")
            .where(writes)
            .order_by(exp.Ordered(this=exp.column("calls"), desc=True))
            .limit(limit)
        )
        try:
            return [str(r[0]) for r in self.execute(q, comment="query history").rows]
        except WarehouseError:
            # installed but not preloaded, or not readable by this role
            return []


def _stat(name: str, oid: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=f"pg_stat_get_{name}", expressions=[oid.copy()])


def size_expression(c: str, version: int) -> exp.Expression:
    """A relation's bytes in discovery's query (``c``: its pg_class alias; ``t``, ``ih`` and
    ``it`` joined there) on a server of ``version``. A partitioned table stores nothing
    itself: its size is its partitions' (``pg_partition_tree``, 12+; before, it reads 0)."""
    kind, oid = _col("relkind", c), _col("oid", c)
    size = exp.case().when(kind.copy().isin(*_lit(*_VIEW_KINDS)), exp.null())
    if version >= 140000:  # reltuples is -1 until the first ANALYZE
        size = size.when(_pages_current(c, "t"), _pages_bytes(c, "t", "ih", "it"))
    if version >= 120000:
        total = exp.func("sum", exp.func("pg_total_relation_size", exp.column("relid")))
        tree = exp.Table(this=exp.func("pg_partition_tree", oid.copy()))
        parts = exp.select(exp.func("coalesce", total, exp.Literal.number(0))).from_(tree)
        size = size.when(kind.eq(exp.Literal.string("p")), exp.Subquery(this=parts))
    return size.else_(exp.func("pg_total_relation_size", oid))


def _pages_current(c: str, t: str) -> exp.Expr:
    """Whether ``pg_class`` page counts still give an ordinary table's size (14+: reltuples
    is -1 until the first VACUUM/ANALYZE and after TRUNCATE): analyzed (which sets its and
    its indexes' relpages), no row changed since, and its TOAST table (which ANALYZE does
    not measure) has had no insert since its last VACUUM (or ever). Else
    ``pg_total_relation_size``, which opens every relation (~50 µs a table)."""
    oid, toast, zero = _col("oid", c), _col("oid", t), exp.Literal.number(0)
    toast_current = (
        exp.case()
        .when(_col("reltuples", t) >= zero, _stat("ins_since_vacuum", toast).eq(zero))
        .else_(exp.and_(_col("relpages", t).eq(zero), _stat("tuples_inserted", toast).eq(zero)))
    )
    analyzed = [
        exp.Is(this=_stat(f"last_{a}_time", oid), expression=exp.null())
        for a in ("analyze", "autoanalyze")
    ]
    return exp.and_(
        _col("relkind", c).eq(exp.Literal.string("r")),
        _col("reltuples", c) >= zero,
        _stat("mod_since_analyze", oid).eq(zero),
        exp.not_(exp.and_(*analyzed)),
        exp.or_(_col("reltoastrelid", c).eq(zero), exp.paren(toast_current)),
    )


def _pages_bytes(c: str, t: str, ih: str, it: str) -> exp.Expression:
    """The table's, its TOAST table's and their indexes' pages in bytes (not free space maps)."""
    total: exp.Expression = exp.cast(_col("relpages", c), "bigint")
    for col in (_col("relpages", t), _col("pages", ih), _col("pages", it)):
        total = exp.Add(
            this=total, expression=exp.Coalesce(this=col, expressions=[exp.Literal.number(0)])
        )
    block = exp.cast(exp.func("current_setting", exp.Literal.string("block_size")), "bigint")
    return exp.Mul(this=exp.paren(total), expression=block)


def _index_pages(alias: str, on: exp.Column) -> tuple[exp.Expression, exp.Expr]:
    """Pages of each relation's indexes by the relation's oid, joined on ``on``."""
    pages = exp.func("sum", exp.cast(_col("relpages", "i"), "bigint"))
    q = (
        exp.select(_col("indrelid", "x"), exp.alias_(pages, "pages"))
        .from_(exp.table_("pg_index", db="pg_catalog", alias="x"))
        .join(exp.table_("pg_class", db="pg_catalog", alias="i"), on="i.oid = x.indexrelid")
        .group_by(_col("indrelid", "x"))
    )
    return q.subquery(alias), _col("indrelid", alias).eq(on)


def _with_string_enums(table: TableInfo, enums: set[tuple[str, str, str]]) -> TableInfo:
    """An enum's type name means nothing to sqlglot; its values are strings."""
    if not enums:
        return table
    key = (table.ref.schema, table.ref.name)
    columns = tuple(
        dataclasses.replace(col, family=TypeFamily.STRING) if (*key, col.name) in enums else col
        for col in table.columns
    )
    return dataclasses.replace(table, columns=columns)

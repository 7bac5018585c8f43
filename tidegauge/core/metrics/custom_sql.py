"""Custom SQL metrics: a user's SELECT, accepted only when it is one read-only query."""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot
from sqlglot import exp

from tidegauge.core.sql_guard import UnsafeSQLError, check_functions

__all__ = ["CustomSQLError", "parse_custom_sql"]


class CustomSQLError(ValueError):
    """A custom metric's SQL is not a single read-only SELECT."""


_WRITE_NODES: tuple[type[exp.Expr], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.Set,
    exp.Use,
    exp.TruncateTable,
    exp.Copy,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
)


def parse_custom_sql(
    sql: str, dialect: str, *, name: str = "custom metric", functions: Iterable[str] = ()
) -> exp.Query:
    """Parse ``sql``; accept only one read-only ``SELECT`` (or a set operation of them)
    calling only allowed functions (:mod:`tidegauge.core.sql_guard`; ``functions`` are the
    engine's own, from its adapter).

    >>> parse_custom_sql("SELECT count(*) FROM t WHERE x < 0", "duckdb").sql()
    'SELECT COUNT(*) FROM t WHERE x < 0'
    >>> try:
    ...     parse_custom_sql("DELETE FROM t", "duckdb")
    ... except CustomSQLError as e:
    ...     print(e)
    custom metric: only a single SELECT is allowed, got DELETE
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as e:  # ParseError, TokenError (e.g. a lone `$`)
        first = str(e).splitlines()[0] if str(e) else "parse error"
        raise CustomSQLError(f"{name}: cannot parse SQL: {first}") from None
    if len(statements) != 1:
        raise CustomSQLError(f"{name}: exactly one statement is allowed, got {len(statements)}")
    stmt = statements[0]
    if not isinstance(stmt, exp.Query):
        kind = stmt.key.upper() if not isinstance(stmt, exp.Command) else str(stmt.this).upper()
        raise CustomSQLError(f"{name}: only a single SELECT is allowed, got {kind}")
    for node in stmt.walk():
        if isinstance(node, _WRITE_NODES):
            raise CustomSQLError(
                f"{name}: only read-only SELECTs are allowed, found {node.key.upper()}"
            )
    try:
        check_functions(stmt, dialect, allowed=functions, name=name)
    except UnsafeSQLError as e:
        raise CustomSQLError(str(e)) from None
    return stmt

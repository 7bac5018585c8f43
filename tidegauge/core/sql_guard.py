"""What user SQL may call: an allow-list of functions, not a deny-list of statements.

Custom metrics, custom-SQL monitors and dbt ``meta`` SQL run in the warehouse session with
tidegauge's credentials. The parser already refuses anything but one ``SELECT``; that is
not enough, because a ``SELECT`` can call functions with effects beyond reading rows:
PostgreSQL's ``set_config('default_transaction_read_only', 'off', false)`` switches off
the read-only session, ``pg_read_file`` and DuckDB's ``read_text`` / ``read_csv`` read
server files, and a DuckDB table named like a path (``FROM '/etc/passwd.csv'``) is a file
scan. New engines and versions add such functions faster than a deny-list can follow, so
every function a query calls must be in :data:`STANDARD_FUNCTIONS` (computations every
engine has) or in the set the warehouse adapter declares for its engine
(``Warehouse.SQL_FUNCTIONS``), and table names must be names, not paths.

A function matches by the name the user wrote (``approx_count_distinct``) or by any name
sqlglot knows for it, so a dialect's spellings of one function all pass or all fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlglot import exp

__all__ = ["STANDARD_FUNCTIONS", "UnsafeSQLError", "check_functions", "function_names"]


class UnsafeSQLError(ValueError):
    """User SQL calls a function (or reads a table) outside the allow-list."""


#: computations on values that every supported engine has and that touch nothing but their
#: arguments: aggregates, window functions, arithmetic, text, conditionals, casts, dates
STANDARD_FUNCTIONS: frozenset[str] = frozenset(
    [
        "count",
        "count_if",
        "sum",
        "avg",
        "min",
        "max",
        "stddev",
        "stddev_pop",
        "stddev_samp",
        "variance",
        "var_pop",
        "var_samp",
        "percentile_cont",
        "percentile_disc",
        "median",
        "mode",
        "any_value",
        "approx_distinct",
        "approx_count_distinct",
        "bool_and",
        "bool_or",
        "every",
        "string_agg",
        "array_agg",
        "row_number",
        "rank",
        "dense_rank",
        "percent_rank",
        "cume_dist",
        "ntile",
        "lag",
        "lead",
        "first_value",
        "last_value",
        "nth_value",
        "abs",
        "ceil",
        "ceiling",
        "floor",
        "round",
        "trunc",
        "truncate",
        "sqrt",
        "power",
        "pow",
        "exp",
        "ln",
        "log",
        "log10",
        "log2",
        "sign",
        "mod",
        "greatest",
        "least",
        "div",
        "lower",
        "upper",
        "length",
        "char_length",
        "character_length",
        "octet_length",
        "trim",
        "ltrim",
        "rtrim",
        "substring",
        "substr",
        "replace",
        "concat",
        "concat_ws",
        "position",
        "strpos",
        "left",
        "right",
        "lpad",
        "rpad",
        "reverse",
        "split_part",
        "starts_with",
        "case",
        "exists",
        "array",
        "if",
        "coalesce",
        "nullif",
        "ifnull",
        "nvl",
        "cast",
        "try_cast",
        "extract",
        "date_part",
        "date_trunc",
        "current_date",
        "current_timestamp",
        "current_time",
        "localtimestamp",
        "date_add",
        "date_sub",
        "date_diff",
        "datediff",
        "timestamp_trunc",
    ]
)

_LEADING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: a table name that is a file path or URL: DuckDB scans such "tables" as files
_PATH_LIKE = re.compile(r"[/\\:.]")


def function_names(node: exp.Func, dialect: str) -> set[str]:
    """Every name ``node`` goes by: as written (anonymous), as sqlglot knows it, as the
    dialect renders it (lower case)."""
    if isinstance(node, exp.Anonymous):
        return {str(node.name).lower()}
    names = {n.lower() for n in type(node).sql_names()}
    names.add(node.key.lower())
    rendered = _LEADING_NAME.match(node.sql(dialect=dialect))
    if rendered:
        names.add(rendered.group(0).lower())
    return names


def check_functions(
    query: exp.Expr,
    dialect: str,
    *,
    allowed: Iterable[str] = (),
    name: str = "custom metric",
) -> None:
    """Raise :class:`UnsafeSQLError` unless every function ``query`` calls is allowed
    (:data:`STANDARD_FUNCTIONS` plus ``allowed``) and every table is named, not a path.

    >>> import sqlglot
    >>> check_functions(sqlglot.parse_one("SELECT count(*) FROM t"), "postgres")
    >>> try:
    ...     check_functions(sqlglot.parse_one("SELECT pg_read_file('/etc/passwd')"), "postgres")
    ... except UnsafeSQLError as e:
    ...     print(e)
    custom metric: function pg_read_file is not allowed in user SQL for postgres
    """
    ok = STANDARD_FUNCTIONS | {a.lower() for a in allowed}
    for node in query.walk():
        if isinstance(node, exp.Table):
            for part in node.parts:
                if not isinstance(part, exp.Identifier):
                    raise UnsafeSQLError(f"{name}: a table must be a name, got {part.sql()}")
                if _PATH_LIKE.search(str(part.name)):
                    raise UnsafeSQLError(
                        f"{name}: table {part.name!r} looks like a file or URL; "
                        "user SQL reads tables only"
                    )
        # operators that sqlglot models as functions (AND, OR, ||, +) compute only
        if not isinstance(node, exp.Func) or isinstance(
            node, exp.Binary | exp.Connector | exp.Unary
        ):
            continue
        names = function_names(node, dialect)
        if not names & ok:
            shown = str(node.name).lower() if isinstance(node, exp.Anonymous) else node.key
            rendered = _LEADING_NAME.match(node.sql(dialect=dialect))
            shown = rendered.group(0).lower() if rendered else shown
            raise UnsafeSQLError(
                f"{name}: function {shown} is not allowed in user SQL for {dialect}"
            )

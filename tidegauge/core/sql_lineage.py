"""Column-level lineage from one SQL statement, with sqlglot.

The statement is qualified against a known schema (every column gets its table, ``SELECT *``
is expanded), then each output column is traced through CTEs, derived tables, subqueries and
set operations down to physical tables. An edge is ``direct`` when the source value flows into
the output column and ``indirect`` when the source only decides which rows or groups exist
(WHERE, JOIN ON, GROUP BY, HAVING, QUALIFY, window PARTITION BY/ORDER BY, CASE conditions,
MERGE ON).

SQL that sqlglot cannot parse never raises: the result falls back to the tables the
tokenizer sees after FROM/JOIN/INTO/USING, with ``column_level=False`` and the reason in
``error``.

>>> lin = column_lineage(
...     "create table mart.revenue as select o.id, sum(o.amount) as total "
...     "from raw.orders o where o.status = 'paid' group by o.id",
...     schema={"raw.orders": ["id", "amount", "status"]},
... )
>>> lin.target, lin.sources
('mart.revenue', ('raw.orders',))
>>> sorted((e.source_column, e.target_column, e.kind.value) for e in lin.edges
...        if e.target_column == "total")
[('amount', 'total', 'direct'), ('id', 'total', 'indirect'), ('status', 'total', 'indirect')]
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.tokenizer_core import TokenType

from tidegauge.core.lineage import EdgeKind
from tidegauge.core.sql_trace import (
    SchemaIndex,
    SchemaLike,
    Src,
    Trace,
    Tracer,
    first_line,
    table_name,
)


@dataclass(frozen=True, slots=True)
class SqlColumnEdge:
    source_table: str
    source_column: str
    target_column: str
    kind: EdgeKind


@dataclass(frozen=True, slots=True)
class SqlLineage:
    """Lineage of one statement.

    ``target`` is the written table for CREATE/INSERT/MERGE (None for a bare query);
    table names are dotted and lowercase as written after qualification
    (``db.schema.table`` when the SQL or the defaults give all three parts).
    """

    statement: str
    target: str | None
    sources: tuple[str, ...]
    output_columns: tuple[str, ...]
    edges: tuple[SqlColumnEdge, ...]
    column_level: bool
    error: str | None = None
    outputs_complete: bool = False  # every output column is known (no unexpanded star)

    def edges_into(self, column: str) -> tuple[SqlColumnEdge, ...]:
        low = column.lower()
        return tuple(e for e in self.edges if e.target_column == low)


def column_lineage(
    sql: str,
    *,
    schema: SchemaLike | None = None,
    dialect: str | None = None,
    default_catalog: str | None = None,
    default_schema: str | None = None,
) -> SqlLineage:
    """Lineage of the one lineage-bearing statement in ``sql`` (the last, if several).

    ``schema`` maps table names (``schema.table`` or ``db.schema.table``) to column names,
    or to ``{column: type}``; it is what ``SELECT *`` expands to and how unqualified columns
    find their table.
    """
    results = statements_lineage(
        sql,
        schema=schema,
        dialect=dialect,
        default_catalog=default_catalog,
        default_schema=default_schema,
    )
    bearing = [r for r in results if r.sources or r.target or r.edges]
    if bearing:
        return bearing[-1]
    if results:
        return results[-1]
    return SqlLineage("unknown", None, (), (), (), False, "no SQL statement found")


def statements_lineage(
    sql: str,
    *,
    schema: SchemaLike | None = None,
    dialect: str | None = None,
    default_catalog: str | None = None,
    default_schema: str | None = None,
) -> list[SqlLineage]:
    """Lineage of every statement in ``sql``."""
    try:
        parsed = [e for e in sqlglot.parse(sql, read=dialect) if e is not None]
    except SqlglotError as exc:
        return [_fallback(sql, dialect, f"sqlglot could not parse the SQL: {first_line(exc)}")]
    except RecursionError:
        return [_fallback(sql, dialect, "SQL too deeply nested for sqlglot")]
    index = SchemaIndex(schema or {})
    out: list[SqlLineage] = []
    for stmt in parsed:
        try:
            out.append(_statement(stmt, index, dialect, default_catalog, default_schema))
        except (SqlglotError, RecursionError, ValueError, KeyError) as exc:
            out.append(
                _fallback(
                    stmt.sql(dialect=dialect),
                    dialect,
                    f"column lineage failed: {type(exc).__name__}: {first_line(exc)}",
                )
            )
    return out


def table_refs_from_tokens(sql: str, dialect: str | None = None) -> tuple[str | None, list[str]]:
    """``(target, sources)`` seen by the tokenizer alone, for SQL the parser rejects.

    A dotted name counts as a table when it follows FROM, JOIN, USING, INTO, UPDATE or
    CREATE ... TABLE/VIEW; names defined as CTEs (``name AS (``) are left out.
    """
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except (SqlglotError, ValueError):
        return None, []
    name_types = {TokenType.VAR, TokenType.IDENTIFIER}
    source_kw = {TokenType.FROM, TokenType.JOIN, TokenType.USING}
    target_kw = {TokenType.INTO, TokenType.UPDATE, TokenType.TABLE, TokenType.VIEW}
    ctes: set[str] = set()
    for i in range(len(tokens) - 2):
        if (
            tokens[i].token_type in name_types
            and tokens[i + 1].token_type is TokenType.ALIAS
            and tokens[i + 2].token_type is TokenType.L_PAREN
        ):
            ctes.add(tokens[i].text.lower())
    target: str | None = None
    sources: list[str] = []
    i = 0
    while i < len(tokens):
        tt = tokens[i].token_type
        if tt in source_kw or tt in target_kw:
            j = i + 1
            parts: list[str] = []
            while j < len(tokens) and tokens[j].token_type in name_types:
                parts.append(tokens[j].text.lower())
                if j + 1 < len(tokens) and tokens[j + 1].token_type is TokenType.DOT:
                    j += 2
                else:
                    j += 1
                    break
            name = ".".join(parts)
            if parts and not (len(parts) == 1 and parts[0] in ctes):
                if tt in target_kw and target is None:
                    target = name
                elif tt in source_kw and name not in sources:
                    sources.append(name)
            i = max(j, i + 1)
        else:
            i += 1
    return target, sources


# ---------------------------------------------------------------------------------- internals


def _fallback(sql: str, dialect: str | None, reason: str) -> SqlLineage:
    target, sources = table_refs_from_tokens(sql, dialect)
    return SqlLineage(
        "unknown", target, tuple(s for s in sources if s != target), (), (), False, reason
    )


def _query_of(stmt: exp.Expr) -> exp.Expr | None:
    if isinstance(stmt, exp.Query):
        return stmt
    q = stmt.args.get("expression")
    if isinstance(q, exp.Subquery):
        q = q.this
    return q if isinstance(q, exp.Query) else None


def _statement(
    stmt: exp.Expr,
    index: SchemaIndex,
    dialect: str | None,
    catalog: str | None,
    db: str | None,
) -> SqlLineage:
    if isinstance(stmt, exp.Merge):
        return _merge(stmt, index, dialect, catalog, db)
    target: str | None = None
    target_cols: list[str] = []
    kind = type(stmt).__name__.lower()
    if isinstance(stmt, exp.Create):
        kind = f"create_{str(stmt.args.get('kind') or 'table').lower()}"
    if isinstance(stmt, exp.Create | exp.Insert):
        this = stmt.this
        if isinstance(this, exp.Schema):
            target_cols = [
                e.name.lower()
                for e in this.expressions
                if isinstance(e, exp.Identifier | exp.ColumnDef)
            ]
            this = this.this
        if isinstance(this, exp.Table):
            this = qualify_tables(this.copy(), db=db, catalog=catalog, dialect=dialect)
            target = table_name(this)
    query = _query_of(stmt)
    if query is None:
        return SqlLineage(kind, target, (), (), (), target is None, None)
    tracer = Tracer(query, index, dialect, catalog, db)
    outputs, traces = tracer.outputs()
    if target_cols and len(target_cols) == len(outputs):
        outputs = target_cols
    elif isinstance(stmt, exp.Insert) and target and not target_cols:
        known = index.columns(target)
        if known and len(known) == len(outputs):
            outputs = [c.lower() for c in known]
    edges = _edges(outputs, traces)
    return SqlLineage(
        "select" if isinstance(stmt, exp.Query) else kind,
        target,
        tuple(s for s in tracer.sources if s != target),
        tuple(outputs),
        edges,
        True,
        tracer.error(),
        outputs_complete=not tracer.root_star and bool(outputs),
    )


def _edges(outputs: list[str], traces: list[Trace]) -> tuple[SqlColumnEdge, ...]:
    edges: list[SqlColumnEdge] = []
    for name, (direct, indirect) in zip(outputs, traces, strict=True):
        for t, c in sorted(direct):
            edges.append(SqlColumnEdge(t, c, name, EdgeKind.DIRECT))
        for t, c in sorted(indirect - direct):
            edges.append(SqlColumnEdge(t, c, name, EdgeKind.INDIRECT))
    return tuple(edges)


def _merge(
    stmt: exp.Merge,
    index: SchemaIndex,
    dialect: str | None,
    catalog: str | None,
    db: str | None,
) -> SqlLineage:
    target_t = qualify_tables(stmt.this.copy(), db=db, catalog=catalog, dialect=dialect)
    if not isinstance(target_t, exp.Table):
        raise ValueError("MERGE target is not a table")
    target = table_name(target_t)
    t_alias = (target_t.alias or target_t.name).lower()
    using = stmt.args.get("using")
    sources: list[str] = []
    notes: list[str] = []
    # alias -> column -> trace
    using_alias = ""
    using_cols: dict[str, Trace] = {}
    using_table: str | None = None
    if isinstance(using, exp.Table):
        u = qualify_tables(using.copy(), db=db, catalog=catalog, dialect=dialect)
        using_table = table_name(u)
        using_alias = (u.alias or u.name).lower()
        sources.append(using_table)
    elif isinstance(using, exp.Subquery):
        using_alias = using.alias.lower()
        inner = Tracer(using.this, index, dialect, catalog, db)
        names, using_traces = inner.outputs()
        using_cols = dict(zip(names, using_traces, strict=True))
        sources.extend(inner.sources)
        if inner.error():
            notes.append(inner.error() or "")
    else:
        raise ValueError("MERGE without USING")

    def trace(node: exp.Expr) -> Trace:
        direct: set[Src] = set()
        for col in node.find_all(exp.Column):
            alias = col.table.lower()
            name = col.name.lower()
            if alias == t_alias:
                direct.add((target, name))
            elif using_table is not None and (alias == using_alias or not alias):
                direct.add((using_table, name))
            elif name in using_cols:
                direct |= using_cols[name][0]
            else:
                notes.append(f"unresolved column {col.sql()}")
        return frozenset(direct), frozenset()

    def trace_full(node: exp.Expr) -> frozenset[Src]:
        out: set[Src] = set()
        for col in node.find_all(exp.Column):
            alias, name = col.table.lower(), col.name.lower()
            if alias == t_alias:
                out.add((target, name))
            elif using_table is not None:
                out.add((using_table, name))
            elif name in using_cols:
                d, ind = using_cols[name]
                out |= d | ind
        return frozenset(out)

    on = stmt.args.get("on")
    shared: set[Src] = set(trace_full(on)) if on is not None else set()
    writes: dict[str, tuple[set[Src], set[Src]]] = {}
    whens = stmt.args.get("whens")
    for when in whens.expressions if whens is not None else ():
        cond = when.args.get("condition")
        cond_src = trace_full(cond) if cond is not None else frozenset()
        then = when.args.get("then")
        pairs: list[tuple[str, exp.Expr]] = []
        if isinstance(then, exp.Update):
            for eq in then.expressions:
                if isinstance(eq, exp.EQ):
                    pairs.append((eq.this.name.lower(), eq.expression))
        elif isinstance(then, exp.Insert):
            cols = then.this.expressions if isinstance(then.this, exp.Tuple) else []
            vals = then.expression.expressions if then.expression is not None else []
            pairs.extend((c.name.lower(), v) for c, v in zip(cols, vals, strict=False))
        for col_name, value in pairs:
            d_direct, _ = trace(value)
            extra: set[Src] = set()
            for name, (_d, ind) in using_cols.items():
                if any(c.name.lower() == name for c in value.find_all(exp.Column)):
                    extra |= ind
            slot = writes.setdefault(col_name, (set(), set()))
            slot[0].update(d_direct)
            slot[1].update(cond_src | extra)
    outputs = sorted(writes)
    traces: list[Trace] = [
        (frozenset(writes[c][0] - {(target, c)}), frozenset(writes[c][1] | shared)) for c in outputs
    ]
    return SqlLineage(
        "merge",
        target,
        tuple(dict.fromkeys(s for s in sources if s != target)),
        tuple(outputs),
        _edges(outputs, traces),
        True,
        "; ".join(dict.fromkeys(n for n in notes if n)) or None,
    )

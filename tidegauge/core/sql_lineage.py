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

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.tokenizer_core import TokenType

from tidegauge.core.lineage import EdgeKind

SchemaLike = Mapping[str, Iterable[str] | Mapping[str, Any]]
_Src = tuple[str, str]  # (table, column), both lowercase
_Trace = tuple[frozenset[_Src], frozenset[_Src]]  # (direct, indirect)
_EMPTY: _Trace = (frozenset(), frozenset())


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
        return [_fallback(sql, dialect, f"sqlglot could not parse the SQL: {_first_line(exc)}")]
    except RecursionError:
        return [_fallback(sql, dialect, "SQL too deeply nested for sqlglot")]
    index = _SchemaIndex(schema or {})
    out: list[SqlLineage] = []
    for stmt in parsed:
        try:
            out.append(_statement(stmt, index, dialect, default_catalog, default_schema))
        except (SqlglotError, RecursionError, ValueError, KeyError) as exc:
            out.append(
                _fallback(
                    stmt.sql(dialect=dialect),
                    dialect,
                    f"column lineage failed: {type(exc).__name__}: {_first_line(exc)}",
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _fallback(sql: str, dialect: str | None, reason: str) -> SqlLineage:
    target, sources = table_refs_from_tokens(sql, dialect)
    return SqlLineage(
        "unknown", target, tuple(s for s in sources if s != target), (), (), False, reason
    )


def _table_name(t: exp.Table) -> str:
    return ".".join(p.name.lower() for p in t.parts if p.name)


class _SchemaIndex:
    """The caller's schema, found by full name or by its last parts."""

    def __init__(self, schema: SchemaLike) -> None:
        self.by_suffix: dict[str, list[tuple[str, list[str]]]] = {}
        for name, cols in schema.items():
            key = name.lower().replace('"', "").replace("`", "")
            columns = [str(c) for c in cols]
            parts = key.split(".")
            for k in range(1, len(parts) + 1):
                self.by_suffix.setdefault(".".join(parts[-k:]), []).append((key, columns))

    def columns(self, name: str) -> list[str] | None:
        hits = self.by_suffix.get(name.lower())
        if not hits:
            return None
        if len(hits) > 1:
            exact = [c for k, c in hits if k == name.lower()]
            return exact[0] if exact else None
        return hits[0][1]


def _query_of(stmt: exp.Expr) -> exp.Expr | None:
    if isinstance(stmt, exp.Query):
        return stmt
    q = stmt.args.get("expression")
    if isinstance(q, exp.Subquery):
        q = q.this
    return q if isinstance(q, exp.Query) else None


def _statement(
    stmt: exp.Expr,
    index: _SchemaIndex,
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
            target = _table_name(this)
    query = _query_of(stmt)
    if query is None:
        return SqlLineage(kind, target, (), (), (), target is None, None)
    tracer = _Tracer(query, index, dialect, catalog, db)
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


def _edges(outputs: list[str], traces: list[_Trace]) -> tuple[SqlColumnEdge, ...]:
    edges: list[SqlColumnEdge] = []
    for name, (direct, indirect) in zip(outputs, traces, strict=True):
        for t, c in sorted(direct):
            edges.append(SqlColumnEdge(t, c, name, EdgeKind.DIRECT))
        for t, c in sorted(indirect - direct):
            edges.append(SqlColumnEdge(t, c, name, EdgeKind.INDIRECT))
    return tuple(edges)


def _schema_for(
    expr: exp.Expr, index: _SchemaIndex, dialect: str | None
) -> tuple[dict[str, Any], list[str]]:
    """The nested mapping sqlglot wants, for just the tables ``expr`` reads."""
    cte_names = {c.alias_or_name.lower() for c in expr.find_all(exp.CTE)}
    tables: dict[tuple[str, ...], list[str]] = {}
    missing: list[str] = []
    for t in expr.find_all(exp.Table):
        parts = tuple(p.name for p in t.parts if p.name)
        if not parts or (len(parts) == 1 and parts[0].lower() in cte_names):
            continue
        cols = index.columns(".".join(parts))
        if cols is None:
            missing.append(".".join(parts).lower())
        else:
            tables[parts] = cols
    depth = max((len(p) for p in tables), default=0)
    nested: dict[str, Any] = {}
    for parts, cols in tables.items():
        if len(parts) != depth:
            missing.append(".".join(parts).lower())
            continue
        level = nested
        for p in parts[:-1]:
            level = level.setdefault(p, {})
        level[parts[-1]] = dict.fromkeys(cols, "unknown")
    return nested, missing


class _Tracer:
    """Traces output columns of a qualified query down to physical table columns."""

    def __init__(
        self,
        query: exp.Expr,
        index: _SchemaIndex,
        dialect: str | None,
        catalog: str | None,
        db: str | None,
    ) -> None:
        q = qualify_tables(query.copy(), db=db, catalog=catalog, dialect=dialect)
        mapping, missing = _schema_for(q, index, dialect)
        self.unknown_tables = sorted(set(missing))
        self.qualify_error: str | None = None
        try:
            self.expr = self._qualify(q, mapping, dialect, catalog, db)
        except OptimizeError as exc:
            # the SQL reads a column its source does not have: trace what can be traced
            self.qualify_error = f"qualification failed: {_first_line(exc)}"
            self.expr = self._qualify(q, {}, dialect, catalog, db)
        root = build_scope(self.expr)
        if root is None:
            raise ValueError("no query scope")
        self.root = root
        self.sources: list[str] = []
        for scope in root.traverse():
            for src in scope.sources.values():
                if isinstance(src, exp.Table):
                    name = _table_name(src)
                    if name not in self.sources:
                        self.sources.append(name)
        self.unresolved: set[str] = set()
        self.missing_columns: set[str] = set()
        self.known: dict[str, set[str]] = {}
        for name in self.sources:
            cols = index.columns(name)
            if cols is not None:
                self.known[name] = {c.lower() for c in cols}
        self.unexpanded_star = False
        self.root_star = False
        self._memo: dict[tuple[int, int], _Trace] = {}
        self._scope_memo: dict[int, frozenset[_Src]] = {}
        self._subscopes: dict[int, Scope] = {}
        for scope in root.traverse():
            self._subscopes[id(scope.expression)] = scope

    @staticmethod
    def _qualify(
        q: exp.Expr,
        mapping: dict[str, Any],
        dialect: str | None,
        catalog: str | None,
        db: str | None,
    ) -> exp.Expr:
        return qualify(
            q.copy(),
            dialect=dialect,
            schema=mapping,
            db=db,
            catalog=catalog,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )

    def error(self) -> str | None:
        notes = [self.qualify_error] if self.qualify_error else []
        if self.unknown_tables:
            notes.append("columns unknown for " + ", ".join(self.unknown_tables))
        if self.unexpanded_star:
            notes.append("SELECT * could not be expanded")
        if self.missing_columns:
            notes.append(
                "columns not in the known schema: " + ", ".join(sorted(self.missing_columns)[:20])
            )
        if self.unresolved:
            notes.append("unresolved columns: " + ", ".join(sorted(self.unresolved)[:20]))
        return "; ".join(notes) or None

    def outputs(self) -> tuple[list[str], list[_Trace]]:
        names = _named_selects(self.root)
        keep = [i for i, n in enumerate(names) if n != "*"]  # an unexpanded star is no column
        if len(keep) < len(names) or any(
            isinstance(s, exp.Star) or (isinstance(s, exp.Column) and s.is_star)
            for s in _leftmost_selects(self.root)
        ):
            self.unexpanded_star = True
            self.root_star = True
        traces = [self._at(self.root, i) for i in keep]
        return [names[i].lower() for i in keep], traces

    # positional output of a scope
    def _at(self, scope: Scope, i: int) -> _Trace:
        key = (id(scope), i)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        self._memo[key] = _EMPTY  # recursive CTEs terminate
        expr = scope.expression
        if isinstance(expr, exp.SetOperation):
            direct: set[_Src] = set()
            indirect: set[_Src] = set()
            children: list[Scope] = (
                getattr(scope, "set_operation_scopes", None)
                or getattr(scope, "union_scopes", None)
                or []
            )
            for child in children:
                d, ind = self._at(child, i)
                direct |= d
                indirect |= ind
            result: _Trace = (frozenset(direct), frozenset(indirect))
        elif isinstance(expr, exp.Select):
            selects = expr.selects
            if i >= len(selects):
                result = _EMPTY
            else:
                d, ind = self._expression(scope, selects[i])
                result = (d, ind | self._scope_indirect(scope))
        else:
            result = _EMPTY
        self._memo[key] = result
        return result

    def _named(self, scope: Scope, name: str) -> _Trace:
        names = [n.lower() for n in _named_selects(scope)]
        low = name.lower()
        if low in names:
            return self._at(scope, names.index(low))
        if any(isinstance(s, exp.Star) for s in _leftmost_selects(scope)):
            self.unexpanded_star = True
        else:
            self.unresolved.add(name)
        return _EMPTY

    def _expression(self, scope: Scope, node: exp.Expr) -> _Trace:
        """Trace the columns ``node`` uses in ``scope``: window specs and CASE conditions
        are indirect, scalar subqueries contribute their own output."""
        direct: set[_Src] = set()
        indirect: set[_Src] = set()
        for col, is_direct in _own_columns(node, True):
            if isinstance(col, exp.Column):
                d, ind = self._column(scope, col)
                if is_direct:
                    direct |= d
                    indirect |= ind
                else:
                    indirect |= d | ind
            elif isinstance(col, exp.Star):
                self.unexpanded_star = True
            else:  # a nested query
                sub = self._subscopes.get(id(col))
                if sub is None:
                    continue
                if is_direct and len(_named_selects(sub)) == 1:
                    d, ind = self._at(sub, 0)
                    direct |= d
                    indirect |= ind
                else:
                    indirect |= self._all_of(sub)
        return frozenset(direct), frozenset(indirect)

    def _all_of(self, scope: Scope) -> frozenset[_Src]:
        out: set[_Src] = set()
        for i in range(len(_named_selects(scope))):
            d, ind = self._at(scope, i)
            out |= d | ind
        return frozenset(out)

    def _column(self, scope: Scope, col: exp.Column) -> _Trace:
        alias = col.table
        s: Scope | None = scope
        while s is not None:
            src = s.sources.get(alias) if alias else None
            if src is None and not alias and len(s.sources) == 1:
                src = next(iter(s.sources.values()))
            if isinstance(src, exp.Table):
                table, name = _table_name(src), col.name.lower()
                known = self.known.get(table)
                if known is not None and name not in known:
                    self.missing_columns.add(f"{table}.{name}")
                return frozenset({(table, name)}), frozenset()
            if isinstance(src, Scope):
                return self._named(src, col.name)
            s = s.parent
        self.unresolved.add(col.sql())
        return _EMPTY

    def _scope_indirect(self, scope: Scope) -> frozenset[_Src]:
        key = id(scope)
        hit = self._scope_memo.get(key)
        if hit is not None:
            return hit
        self._scope_memo[key] = frozenset()
        expr = scope.expression
        nodes: list[exp.Expr] = []
        for arg in ("where", "group", "having", "qualify"):
            part = expr.args.get(arg)
            if part is not None:
                nodes.append(part)
        for join in expr.args.get("joins") or ():
            on = join.args.get("on")
            if on is not None:
                nodes.append(on)
        out: set[_Src] = set()
        for node in nodes:
            d, ind = self._expression(scope, node)
            out |= d | ind
        # semi/anti joins and lateral sources also filter; their columns are already in ON
        result = frozenset(out)
        self._scope_memo[key] = result
        return result


def _named_selects(scope: Scope) -> list[str]:
    return [s.alias_or_name for s in _leftmost_selects(scope)]


def _leftmost_selects(scope: Scope) -> list[exp.Expr]:
    expr = scope.expression
    while isinstance(expr, exp.SetOperation):
        expr = expr.this
    while isinstance(expr, exp.Subquery):
        expr = expr.this
    return list(expr.selects) if isinstance(expr, exp.Select) else []


def _own_columns(node: exp.Expr, direct: bool) -> Iterator[tuple[exp.Expr, bool]]:
    """Columns of ``node`` not inside a nested query, with whether their value flows.

    Nested queries are yielded themselves (the tracer maps them to their scope).
    """
    if isinstance(node, exp.Column):
        yield node, direct
        return
    if isinstance(node, exp.Star):
        # a star left in a projection was not expanded; COUNT(*) reads no column
        if isinstance(node.parent, exp.Select | exp.Column):
            yield node, direct
        return
    if isinstance(node, exp.Subquery):
        yield node.unnest(), direct
        return
    if isinstance(node, exp.Query):
        yield node, direct
        return
    if isinstance(node, exp.Window):
        yield from _own_columns(node.this, direct)
        for arg in ("partition_by", "order"):
            part = node.args.get(arg)
            if isinstance(part, list):
                for p in part:
                    yield from _own_columns(p, False)
            elif part is not None:
                yield from _own_columns(part, False)
        return
    if isinstance(node, exp.If):
        # a CASE branch or a standalone IF/IFF (Snowflake, BigQuery, Spark): both results
        # flow, the condition only decides which
        yield from _own_columns(node.this, False)
        for branch in ("true", "false"):
            value = node.args.get(branch)
            if value is not None:
                yield from _own_columns(value, direct)
        return
    for child in node.iter_expressions():
        yield from _own_columns(child, direct)


def _merge(
    stmt: exp.Merge,
    index: _SchemaIndex,
    dialect: str | None,
    catalog: str | None,
    db: str | None,
) -> SqlLineage:
    target_t = qualify_tables(stmt.this.copy(), db=db, catalog=catalog, dialect=dialect)
    if not isinstance(target_t, exp.Table):
        raise ValueError("MERGE target is not a table")
    target = _table_name(target_t)
    t_alias = (target_t.alias or target_t.name).lower()
    using = stmt.args.get("using")
    sources: list[str] = []
    notes: list[str] = []
    # alias -> column -> trace
    using_alias = ""
    using_cols: dict[str, _Trace] = {}
    using_table: str | None = None
    if isinstance(using, exp.Table):
        u = qualify_tables(using.copy(), db=db, catalog=catalog, dialect=dialect)
        using_table = _table_name(u)
        using_alias = (u.alias or u.name).lower()
        sources.append(using_table)
    elif isinstance(using, exp.Subquery):
        using_alias = using.alias.lower()
        inner = _Tracer(using.this, index, dialect, catalog, db)
        names, using_traces = inner.outputs()
        using_cols = dict(zip(names, using_traces, strict=True))
        sources.extend(inner.sources)
        if inner.error():
            notes.append(inner.error() or "")
    else:
        raise ValueError("MERGE without USING")

    def trace(node: exp.Expr) -> _Trace:
        direct: set[_Src] = set()
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

    def trace_full(node: exp.Expr) -> frozenset[_Src]:
        out: set[_Src] = set()
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
    shared: set[_Src] = set(trace_full(on)) if on is not None else set()
    writes: dict[str, tuple[set[_Src], set[_Src]]] = {}
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
            extra: set[_Src] = set()
            for name, (_d, ind) in using_cols.items():
                if any(c.name.lower() == name for c in value.find_all(exp.Column)):
                    extra |= ind
            slot = writes.setdefault(col_name, (set(), set()))
            slot[0].update(d_direct)
            slot[1].update(cond_src | extra)
    outputs = sorted(writes)
    traces: list[_Trace] = [
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

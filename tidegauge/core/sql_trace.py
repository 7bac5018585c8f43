"""Tracing the output columns of a qualified query down to physical table columns.

:mod:`tidegauge.core.sql_lineage` qualifies a statement against the caller's schema
(:class:`SchemaIndex`, :func:`schema_for`) and hands its query to a :class:`Tracer`, which
follows each output column through CTEs, derived tables, subqueries and set operations. A
trace is the pair (direct sources, indirect sources): a source is direct when its value flows
into the column, indirect when it only decides which rows or groups exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.optimizer.scope import Scope, build_scope

SchemaLike = Mapping[str, Iterable[str] | Mapping[str, Any]]
Src = tuple[str, str]  # (table, column), both lowercase
Trace = tuple[frozenset[Src], frozenset[Src]]  # (direct, indirect)
EMPTY: Trace = (frozenset(), frozenset())


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def table_name(t: exp.Table) -> str:
    return ".".join(p.name.lower() for p in t.parts if p.name)


class SchemaIndex:
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


def schema_for(
    expr: exp.Expr, index: SchemaIndex, dialect: str | None
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


class Tracer:
    """Traces output columns of a qualified query down to physical table columns."""

    def __init__(
        self,
        query: exp.Expr,
        index: SchemaIndex,
        dialect: str | None,
        catalog: str | None,
        db: str | None,
    ) -> None:
        q = qualify_tables(query.copy(), db=db, catalog=catalog, dialect=dialect)
        mapping, missing = schema_for(q, index, dialect)
        self.unknown_tables = sorted(set(missing))
        self.qualify_error: str | None = None
        try:
            self.expr = self._qualify(q, mapping, dialect, catalog, db)
        except OptimizeError as exc:
            # the SQL reads a column its source does not have: trace what can be traced
            self.qualify_error = f"qualification failed: {first_line(exc)}"
            self.expr = self._qualify(q, {}, dialect, catalog, db)
        root = build_scope(self.expr)
        if root is None:
            raise ValueError("no query scope")
        self.root = root
        self.sources: list[str] = []
        for scope in root.traverse():
            for src in scope.sources.values():
                if isinstance(src, exp.Table):
                    name = table_name(src)
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
        self._memo: dict[tuple[int, int], Trace] = {}
        self._scope_memo: dict[int, frozenset[Src]] = {}
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

    def outputs(self) -> tuple[list[str], list[Trace]]:
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
    def _at(self, scope: Scope, i: int) -> Trace:
        key = (id(scope), i)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        self._memo[key] = EMPTY  # recursive CTEs terminate
        expr = scope.expression
        if isinstance(expr, exp.SetOperation):
            direct: set[Src] = set()
            indirect: set[Src] = set()
            children: list[Scope] = (
                getattr(scope, "set_operation_scopes", None)
                or getattr(scope, "union_scopes", None)
                or []
            )
            for child in children:
                d, ind = self._at(child, i)
                direct |= d
                indirect |= ind
            result: Trace = (frozenset(direct), frozenset(indirect))
        elif isinstance(expr, exp.Select):
            selects = expr.selects
            if i >= len(selects):
                result = EMPTY
            else:
                d, ind = self._expression(scope, selects[i])
                result = (d, ind | self._scope_indirect(scope))
        else:
            result = EMPTY
        self._memo[key] = result
        return result

    def _named(self, scope: Scope, name: str) -> Trace:
        names = [n.lower() for n in _named_selects(scope)]
        low = name.lower()
        if low in names:
            return self._at(scope, names.index(low))
        if any(isinstance(s, exp.Star) for s in _leftmost_selects(scope)):
            self.unexpanded_star = True
        else:
            self.unresolved.add(name)
        return EMPTY

    def _expression(self, scope: Scope, node: exp.Expr) -> Trace:
        """Trace the columns ``node`` uses in ``scope``: window specs and CASE conditions
        are indirect, scalar subqueries contribute their own output."""
        direct: set[Src] = set()
        indirect: set[Src] = set()
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

    def _all_of(self, scope: Scope) -> frozenset[Src]:
        out: set[Src] = set()
        for i in range(len(_named_selects(scope))):
            d, ind = self._at(scope, i)
            out |= d | ind
        return frozenset(out)

    def _column(self, scope: Scope, col: exp.Column) -> Trace:
        alias = col.table
        s: Scope | None = scope
        while s is not None:
            src = s.sources.get(alias) if alias else None
            if src is None and not alias and len(s.sources) == 1:
                src = next(iter(s.sources.values()))
            if isinstance(src, exp.Table):
                table, name = table_name(src), col.name.lower()
                known = self.known.get(table)
                if known is not None and name not in known:
                    self.missing_columns.add(f"{table}.{name}")
                return frozenset({(table, name)}), frozenset()
            if isinstance(src, Scope):
                return self._named(src, col.name)
            s = s.parent
        self.unresolved.add(col.sql())
        return EMPTY

    def _scope_indirect(self, scope: Scope) -> frozenset[Src]:
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
        out: set[Src] = set()
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

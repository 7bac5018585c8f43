"""Patterns that match nothing: a ``--table``, an ``include``, a ``tables.match``, a route or a
monitor that names a table the warehouse does not have.

A typo in any of them used to run zero tables (or skip one) and exit 0 without a word; here
each becomes one line naming the pattern and the closest real table.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tidegauge.config import Project

__all__ = ["Known", "did_you_mean", "unknown_tables", "unmatched_patterns"]


@dataclass(frozen=True)
class Known:
    """A table the warehouse has: its warehouse, schema and name."""

    warehouse: str
    schema: str
    name: str

    @property
    def fqn(self) -> str:
        return f"{self.schema}.{self.name}"


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or nothing.

    >>> did_you_mean("uxshop.ordrs", ["uxshop.orders", "uxshop.customers"])
    " (did you mean 'uxshop.orders'?)"
    >>> did_you_mean("zzz", ["uxshop.orders"])
    ''
    """
    pool = sorted(set(options))
    close = difflib.get_close_matches(word.lower(), [o.lower() for o in pool], n=1, cutoff=0.6)
    if not close:
        return ""
    original = next(o for o in pool if o.lower() == close[0])
    return f" (did you mean '{original}'?)"


def _names(t: Known) -> set[str]:
    return {t.fqn.lower(), t.name.lower(), f"{t.warehouse}:{t.fqn}".lower()}


def unknown_tables(wanted: Sequence[str], tables: Sequence[Known]) -> list[str]:
    """One message per ``--table`` that names no table (exact name, as the run selects).

    >>> unknown_tables(["uxshop.nope", "orders"], [Known("main", "uxshop", "orders")])
    ["no table 'uxshop.nope' in any warehouse (did you mean 'uxshop.orders'?)"]
    """
    every: set[str] = set().union(*(_names(t) for t in tables)) if tables else set()
    fqns = [t.fqn for t in tables]
    return [
        f"no table '{w}' in any warehouse{did_you_mean(w, fqns)}"
        for w in wanted
        if w.lower() not in every
    ]


def _glob_hits(pattern: str, tables: Sequence[Known], *, schema_alone: bool = False) -> bool:
    p = pattern.lower()
    for t in tables:
        if schema_alone and "." not in p and fnmatchcase(t.schema.lower(), p):
            return True
        if any(fnmatchcase(n, p) for n in _names(t)):
            return True
    return False


def unmatched_patterns(project: Project, tables: Sequence[Known]) -> list[str]:
    """A warning for each include glob, ``tables:`` match, route table/schema condition and
    monitor table that matches none of ``tables`` (those the run discovered)."""
    out: list[str] = []
    fqns = [t.fqn for t in tables]
    schemas = sorted({t.schema for t in tables})
    for w in project.warehouses:
        # include is applied before the tables reach us, so a glob that matches nothing
        # leaves its warehouse with no tables at all
        mine = [t for t in tables if t.warehouse == w.name]
        if not mine and list(w.include) != ["*"]:
            for pattern in w.include:
                out.append(
                    f"warehouses[{w.name}].include '{pattern}' matches no table"
                    f"{did_you_mean(pattern, fqns + schemas)}"
                )
    for entry in project.user_config().tables:
        if entry.match != "*" and not _glob_hits(entry.match, tables):
            out.append(
                f"tables: match '{entry.match}' matches no table{did_you_mean(entry.match, fqns)}"
            )
    for i, route in enumerate(project.user_config().routes):
        for pattern in route.match.table or []:
            if not _glob_hits(pattern, tables):
                out.append(
                    f"routes[{i}] table '{pattern}' matches no table{did_you_mean(pattern, fqns)}"
                )
        for pattern in route.match.schema_ or []:
            if not any(fnmatchcase(s.lower(), pattern.lower()) for s in schemas):
                out.append(
                    f"routes[{i}] schema '{pattern}' matches no schema"
                    f"{did_you_mean(pattern, schemas)}"
                )
    from tidegauge.monitors import declared_monitors

    every: set[str] = set().union(*(_names(t) for t in tables)) if tables else set()
    for m in declared_monitors(project):
        if m.table.lower() not in every:
            out.append(
                f"monitor '{m.name}': table '{m.table}' not found{did_you_mean(m.table, fqns)}"
            )
    return out

"""Segment's warehouse layout, recognised on discovery with no configuration.

Segment loads each source into one schema: ``tracks`` (every event, with an ``event``
column naming it), one table per event name (``order_completed``...), ``identifies`` and
``pages``. A schema with ``tracks`` (and its ``event`` column) plus ``identifies`` or
``pages`` is taken for one, and:

* ``event`` of ``tracks`` becomes a categorical column, so each event name gets its own
  volume series (rows per bucket per value) and a new or vanished event name alerts;
* the per-event tables are ordinary tables: volume, freshness and schema are watched as
  for any table, and they are tagged ``segment`` (and ``segment:<schema>``) for routing.

What the user configured for those tables wins: entries are only added, never changed.

>>> from tidegauge.core.model import ColumnInfo, TableInfo, TableRef, TypeFamily
>>> col = lambda n: ColumnInfo(n, "varchar", TypeFamily.STRING)
>>> found = [TableInfo(TableRef("w", "web", "tracks"), columns=(col("event"),)),
...          TableInfo(TableRef("w", "web", "pages")),
...          TableInfo(TableRef("w", "web", "order_completed"), columns=(col("event"),))]
>>> sorted(segment_sources({"w": found}))
[('w', 'web')]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tidegauge.core.model import TableInfo

if TYPE_CHECKING:
    from tidegauge.config import Project

#: Segment's own tables in a source schema; every other table there is one event
SEGMENT_TABLES = frozenset({"tracks", "identifies", "pages", "screens", "users", "groups"})


def segment_sources(tables: dict[str, list[TableInfo]]) -> set[tuple[str, str]]:
    """(warehouse, schema) pairs laid out the way Segment loads a source."""
    out: set[tuple[str, str]] = set()
    for wh, infos in tables.items():
        by_schema: dict[str, dict[str, TableInfo]] = {}
        for info in infos:
            by_schema.setdefault(info.ref.schema.lower(), {})[info.ref.name.lower()] = info
        for schema, named in by_schema.items():
            tracks = named.get("tracks")
            if tracks is None or not any(c.name.lower() == "event" for c in tracks.columns):
                continue
            if "identifies" in named or "pages" in named:
                out.add((wh, schema))
    return out


def event_tables(tables: Iterable[TableInfo], schema: str) -> list[TableInfo]:
    return [
        t
        for t in tables
        if t.ref.schema.lower() == schema and t.ref.name.lower() not in SEGMENT_TABLES
    ]


def recognise(project: Project, tables: dict[str, list[TableInfo]]) -> list[str]:
    """Add the settings above for every Segment source found; the schemas recognised."""
    from tidegauge.config import TableSettings

    configured = {t.match.lower() for t in project.tables}
    added: list[str] = []
    for wh, schema in sorted(segment_sources(tables)):
        tracks = f"{schema}.tracks"
        if tracks not in configured:
            project.tables.append(
                TableSettings(
                    match=tracks,
                    categorical=True,
                    categorical_columns=["event"],
                    tags=["segment", f"segment:{schema}"],
                )
            )
        for t in event_tables(tables[wh], schema):
            if t.ref.fqn.lower() not in configured:
                project.tables.append(
                    TableSettings(match=t.ref.fqn.lower(), tags=["segment", f"segment:{schema}"])
                )
        configured = {t.match.lower() for t in project.tables}
        added.append(schema)
    return added

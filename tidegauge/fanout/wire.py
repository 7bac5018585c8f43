"""What travels between the coordinating run and its workers, as plain JSON.

Brokers carry JSON only (never pickle: a broker message must not be able to run code), so
tables, collected entries and schema changes are turned into dicts here and back, exactly:
a worker's entry rebuilt in the coordinator detects the same alerts as the worker's own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tidegauge.core.detectors.schema import SchemaChange, SchemaChangeType
from tidegauge.core.model import ColumnInfo, TableInfo, TableKind, TableRef, TypeFamily


def _time(v: datetime | None) -> str | None:
    return None if v is None else v.isoformat()


def _parse_time(v: str | None) -> datetime | None:
    return None if v is None else datetime.fromisoformat(v)


def column_to_wire(c: ColumnInfo) -> dict[str, Any]:
    return {
        "name": c.name,
        "data_type": c.data_type,
        "family": c.family.value,
        "nullable": c.nullable,
        "ordinal": c.ordinal,
    }


def column_from_wire(d: dict[str, Any]) -> ColumnInfo:
    return ColumnInfo(
        d["name"],
        d["data_type"],
        TypeFamily(d["family"]),
        nullable=bool(d["nullable"]),
        ordinal=int(d["ordinal"]),
    )


def table_to_wire(info: TableInfo) -> dict[str, Any]:
    r = info.ref
    return {
        "ref": [r.warehouse, r.schema, r.name, r.database],
        "kind": info.kind.value,
        "row_count": info.row_count,
        "bytes": info.bytes,
        "last_modified": _time(info.last_modified),
        "columns": [column_to_wire(c) for c in info.columns],
        "comment": info.comment,
    }


def table_from_wire(d: dict[str, Any]) -> TableInfo:
    wh, schema, name, database = d["ref"]
    return TableInfo(
        ref=TableRef(wh, schema, name, database),
        kind=TableKind(d["kind"]),
        row_count=d["row_count"],
        bytes=d["bytes"],
        last_modified=_parse_time(d["last_modified"]),
        columns=tuple(column_from_wire(c) for c in d["columns"]),
        comment=d["comment"],
    )


def change_to_wire(ch: Any) -> dict[str, Any]:
    if not isinstance(ch, SchemaChange):
        raise TypeError(f"cannot send a {type(ch).__name__} as a schema change")
    return {
        "change": ch.change.value,
        "column": ch.column,
        "old": None if ch.old is None else column_to_wire(ch.old),
        "new": None if ch.new is None else column_to_wire(ch.new),
    }


def change_from_wire(d: dict[str, Any]) -> SchemaChange:
    return SchemaChange(
        SchemaChangeType(d["change"]),
        d["column"],
        None if d["old"] is None else column_from_wire(d["old"]),
        None if d["new"] is None else column_from_wire(d["new"]),
    )


def entry_to_wire(entry: Any) -> dict[str, Any]:
    """A collected table (``steps.collect.CollectedTable``) without what the coordinator
    already has (its table description and settings)."""
    return {
        "table_id": entry.table_id,
        "key": entry.info.ref.key,
        "schema_changes": [change_to_wire(ch) for ch in entry.schema_changes],
        "points": entry.points,
        "first_run": entry.first_run,
        "resumed_after": _time(entry.resumed_after),
        "error": entry.error,
    }

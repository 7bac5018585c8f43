"""The warehouse inventory as stored: the tables discovery found and their columns.

Discovery records thousands of tables at once (:func:`upsert_tables`, a few statements per
500 tables); a table as read back is a :class:`StoredTable`; a schema snapshot's columns
travel as JSON (:func:`columns_to_json`) with a fingerprint that says whether it changed.
:class:`~tidegauge.store.store.Store` offers these as its inventory methods.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.sql import Insert

from tidegauge.core.model import ColumnInfo, TableInfo, TableRef, TypeFamily
from tidegauge.store import schema as s
from tidegauge.store.batches import executemany_raw
from tidegauge.store.engine import upsert, utc

if TYPE_CHECKING:
    from tidegauge.store.store import Store


@dataclass(frozen=True)
class StoredTable:
    id: int
    ref: TableRef
    kind: str
    row_count: int | None
    bytes: int | None
    last_modified: datetime | None
    last_seen: datetime
    dropped_at: datetime | None
    owner: str | None
    tags: list[str]
    dbt_unique_id: str | None
    timestamp_column: str | None

    @classmethod
    def from_row(cls, r: Any) -> StoredTable:
        m = r._mapping
        return cls(
            id=m["id"],
            ref=TableRef(m["warehouse"], m["schema"], m["name"], m["database"] or None),
            kind=m["kind"],
            row_count=m["row_count"],
            bytes=m["bytes"],
            last_modified=utc(m["last_modified"]),
            last_seen=utc(m["last_seen"]),  # type: ignore[arg-type]
            dropped_at=utc(m["dropped_at"]),
            owner=m["owner"],
            tags=list(m["tags"] or []),
            dbt_unique_id=m["dbt_unique_id"],
            timestamp_column=m["timestamp_column"],
        )


#: tables recorded per statement by ``upsert_tables``
TABLES_PER_STATEMENT = 500


def _identity(ref: TableRef) -> tuple[str, str, str, str]:
    return (ref.warehouse, ref.database or "", ref.schema, ref.name)


def schema_fingerprint(cols: Sequence[ColumnInfo]) -> str:
    payload = json.dumps([(c.name, c.data_type, c.nullable) for c in cols])
    return hashlib.sha256(payload.encode()).hexdigest()


def columns_to_json(cols: Sequence[ColumnInfo]) -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "data_type": c.data_type,
            "family": c.family.value,
            "nullable": c.nullable,
            "ordinal": c.ordinal,
        }
        for c in cols
    ]


def columns_from_json(data: Iterable[dict[str, Any]]) -> list[ColumnInfo]:
    return [
        ColumnInfo(d["name"], d["data_type"], TypeFamily(d["family"]), d["nullable"], d["ordinal"])
        for d in data
    ]


#: the ``tables`` columns a discovered table fills, in the order its row is built
TABLE_COLUMNS = (
    "warehouse",
    "database",
    "schema",
    "name",
    "kind",
    "row_count",
    "bytes",
    "last_modified",
    "first_seen",
    "last_seen",
    "dropped_at",
    "tags",
)


@cache
def _upsert_tables(dialect: str) -> Insert:
    """The table upsert (a table seen again keeps its id, ``first_seen`` and tags), built
    once per dialect so that its compiled form is reused."""
    return upsert(
        dialect,
        s.tables,
        None,
        ["warehouse", "database", "schema", "name"],
        ["kind", "row_count", "bytes", "last_modified", "last_seen", "dropped_at"],
    )


def upsert_tables(store: Store, infos: Sequence[TableInfo], now: datetime) -> list[int]:
    """Record discovered tables and their columns in one transaction; their ids in order.

    A few statements per 500 tables, not per table: a warehouse of 10,000 tables is
    recorded in seconds. Tables whose catalog facts did not change since the last
    discovery are not rewritten (one ``last_seen`` update per 500 of them), and
    unchanged columns are not written either.
    """
    t = s.tables
    ids: dict[tuple[str, str, str, str], int] = {}
    facts = select(
        t.c.id,
        t.c.warehouse,
        t.c.database,
        t.c.schema,
        t.c.name,
        t.c.kind,
        t.c.row_count,
        t.c.bytes,
        t.c.last_modified,
        t.c.dropped_at,
    )
    with store.engine.begin() as c:
        # more tables than one statement takes: every stored table of their warehouses is read
        # at once (one statement; a whole discovery is most of them), not 500 four-part keys
        # bound and matched per statement
        known: dict[tuple[str, str, str, str], Any] | None = None
        if len(infos) > TABLES_PER_STATEMENT:
            warehouses = sorted({info.ref.warehouse for info in infos})
            known = {
                (r.warehouse, r.database, r.schema, r.name): r
                for r in c.execute(facts.where(t.c.warehouse.in_(warehouses)))
            }
        for lo in range(0, len(infos), TABLES_PER_STATEMENT):
            # one row per table identity (the last wins), as the per-table upsert did
            part = {_identity(info.ref): info for info in infos[lo : lo + TABLES_PER_STATEMENT]}
            if known is not None:
                stored = {key: known[key] for key in part if key in known}
            else:
                stored = {
                    (r.warehouse, r.database, r.schema, r.name): r
                    for r in c.execute(
                        facts.where(
                            tuple_(t.c.warehouse, t.c.database, t.c.schema, t.c.name).in_(
                                list(part)
                            )
                        )
                    )
                }
            same = [
                key
                for key, info in part.items()
                if (row := stored.get(key)) is not None
                and row.dropped_at is None
                and (row.kind, row.row_count, row.bytes, utc(row.last_modified))
                == (info.kind.value, info.row_count, info.bytes, utc(info.last_modified))
            ]
            for key in same:
                ids[key] = int(stored[key].id)
            for lo_ in range(0, len(same), TABLES_PER_STATEMENT):
                c.execute(
                    update(t)
                    .where(t.c.id.in_([ids[k] for k in same[lo_ : lo_ + TABLES_PER_STATEMENT]]))
                    .values(last_seen=now)
                )
            written = [info for key, info in part.items() if key not in ids]
            if written:
                # the driver's own executemany (a first discovery writes every table)
                executemany_raw(
                    c,
                    _upsert_tables(store.dialect),
                    t,
                    TABLE_COLUMNS,
                    [
                        (
                            info.ref.warehouse,
                            info.ref.database or "",
                            info.ref.schema,
                            info.ref.name,
                            info.kind.value,
                            info.row_count,
                            info.bytes,
                            info.last_modified,
                            now,
                            now,
                            None,
                            [],
                        )
                        for info in written
                    ],
                )
                keys = [_identity(info.ref) for info in written]
                for r in c.execute(
                    select(t.c.id, t.c.warehouse, t.c.database, t.c.schema, t.c.name).where(
                        tuple_(t.c.warehouse, t.c.database, t.c.schema, t.c.name).in_(keys)
                    )
                ):
                    ids[(r.warehouse, r.database, r.schema, r.name)] = int(r.id)
            replace_columns(c, {ids[key]: info.columns for key, info in part.items()})
    return [ids[_identity(info.ref)] for info in infos]


#: the ``columns`` columns a discovered column fills, in the order rows are built
COLUMN_COLUMNS = ("table_id", "name", "data_type", "family", "nullable", "ordinal", "tags")


def replace_columns(c: Any, wanted: dict[int, Sequence[ColumnInfo]]) -> None:
    """Make the stored columns of each table id match; unchanged columns stay put."""
    col = s.columns
    existing: dict[int, dict[str, tuple[Any, ...]]] = {}
    # only what is compared: the JSON tags would be decoded for every stored column
    stored = select(
        col.c.table_id, col.c.name, col.c.data_type, col.c.family, col.c.nullable, col.c.ordinal
    ).where(col.c.table_id.in_(list(wanted)))
    for tid, name, data_type, family, nullable, ordinal in c.execute(stored).tuples():
        existing.setdefault(tid, {})[name] = (data_type, family, nullable, ordinal)
    gone: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    new: list[tuple[Any, ...]] = []
    for tid, cols in wanted.items():
        have = existing.get(tid, {})
        want = {c_.name: (c_.data_type, c_.family.value, c_.nullable, c_.ordinal) for c_ in cols}
        if want == have and len(want) == len(cols):
            continue  # the table's columns as stored (most tables, most runs): one comparison
        gone += [{"b_tid": tid, "b_name": n} for n in have if n not in want]
        for c_ in cols:
            vals = (c_.data_type, c_.family.value, c_.nullable, c_.ordinal)
            row = have.get(c_.name)
            if row is None:
                new.append((tid, c_.name, *vals, []))
            elif row != vals:
                changed.append(
                    {"b_tid": tid, "b_name": c_.name, **dict(zip(_COMPARED, vals, strict=True))}
                )
    match = and_(col.c.table_id == bindparam("b_tid"), col.c.name == bindparam("b_name"))
    if gone:
        c.execute(delete(col).where(match), gone)
    if changed:
        c.execute(
            update(col).where(match).values(**{k[2:]: bindparam(k) for k in _COMPARED}),
            changed,
        )
    if new:  # the driver's own executemany: a first discovery writes every column
        executemany_raw(c, _insert_columns(), col, COLUMN_COLUMNS, new)


#: bind names of the compared column facts, in the order :func:`replace_columns` compares them
_COMPARED = ("b_data_type", "b_family", "b_nullable", "b_ordinal")


@cache
def _insert_columns() -> Insert:
    """The column insert, built once so that its compiled form is reused."""
    return insert(s.columns)

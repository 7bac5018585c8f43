"""Columns of seeds and sources a manifest does not list, so that ``select *`` can be expanded.

A manifest from ``dbt parse`` (what a CI job has before anything runs) knows a seed's or a
source's columns only when its YAML declares them all; staging models that ``select *`` from
them then have column lists nobody can check. :class:`StarColumns` fills them in, first hit wins:

1. the base branch's ``catalog.json`` (read beside the base manifest): a seed only while its
   file is unchanged (same checksum), a source always, since dbt does not build sources;
2. the columns tidegauge already stores for that table (production as last collected);
3. the warehouse itself, through ``information_schema.columns`` of the table's schema.

Stores and warehouses hold what production has, so a seed whose file changed is never
resolved from them: its new columns are not there yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tidegauge.core.lineage import Node, NodeColumn, NodeKind

if TYPE_CHECKING:
    from tidegauge.integrations.dbt import DbtProject
    from tidegauge.store.store import Store
    from tidegauge.warehouses.base import Warehouse

log = logging.getLogger("tidegauge.dbt")

Resolved = tuple[tuple[NodeColumn, ...], str]


class StarColumns:
    """Callable given to :func:`~tidegauge.integrations.dbt.load_dbt_project` as
    ``resolve_columns``: ``node -> (columns, where they came from)`` or None."""

    def __init__(
        self,
        base: DbtProject | None = None,
        store: Store | None = None,
        warehouses: Sequence[Warehouse] = (),
    ) -> None:
        self.base = base
        self.store = store
        self.warehouses = list(warehouses)
        self._schemas: dict[tuple[int, str], dict[str, list[NodeColumn]]] = {}
        self.used: dict[str, str] = {}  # node id -> where its columns came from
        self.errors: list[str] = []
        self._connected: set[int] = set()

    def close(self) -> None:
        for i in sorted(self._connected):
            self.warehouses[i].close()
        self._connected.clear()

    def __call__(self, node: Node) -> Resolved | None:
        got = self._resolve(node)
        if got is not None:
            self.used[node.id] = got[1]
        return got

    def _resolve(self, node: Node) -> Resolved | None:
        base = self.base.graph.get(node.id) if self.base is not None else None
        if base is not None and node.kind is NodeKind.SEED and base.checksum != node.checksum:
            return None  # the seed file changed: nothing built from the old one is valid
        if base is not None and base.columns and base.meta.get("columns_from") == "catalog":
            return base.columns, "base_catalog"
        if not node.schema or not node.table:
            return None
        if self.store is not None:
            cols = self._from_store(node.schema, node.table)
            if cols:
                return cols, "store"
        for i, wh in enumerate(self.warehouses):
            found = self._from_warehouse(i, wh, node.schema, node.table)
            if found:
                return tuple(found), "warehouse"
        return None

    def _from_store(self, schema: str, table: str) -> tuple[NodeColumn, ...]:
        assert self.store is not None
        stored = self.store.find_table(f"{schema}.{table}")
        if stored is None or stored.dropped_at is not None:
            return ()
        return tuple(NodeColumn(c.name, c.data_type) for c in self.store.columns(stored.id))

    def _from_warehouse(self, i: int, wh: Warehouse, schema: str, table: str) -> list[NodeColumn]:
        from tidegauge.warehouses.base import WarehouseError

        key = (i, schema.lower())
        if key not in self._schemas:
            tables: dict[str, list[NodeColumn]] = {}
            try:
                if i not in self._connected:  # connect only when the catalog and store fell short
                    wh.connect()
                    self._connected.add(i)
                rows = wh.execute(wh.information_schema_columns([schema])).dicts()
            except WarehouseError as exc:
                self.errors.append(f"{wh.name}: {exc}")
                log.warning("columns of schema %s from %s: %s", schema, wh.name, exc)
                rows = []
            for r in rows:
                cols = tables.setdefault(str(r["table_name"]).lower(), [])
                cols.append(NodeColumn(str(r["column_name"]), str(r.get("data_type") or "")))
            self._schemas[key] = tables
        return self._schemas[key].get(table.lower(), [])

"""Indexes for the reads a fleet makes often: live tables by name, open incidents by table,
a table's previous runs.

- ``ix_tables_live_order`` (dropped_at, warehouse, schema, name): the web's table lists page
  through it instead of sorting every table per request (name prefixes on MariaDB, whose
  index keys cannot hold three full utf8mb4 names).
- ``ix_incidents_table_status`` (table_id, status): open incidents per table on the overview
  and table pages.
- ``ix_run_tables_table`` (table_id, run_id): a table's previous runs, which the primary key
  (run_id, table_id) cannot answer without reading every run.

Stores created by revision 0001 after these indexes were declared already have them (0001
creates what ``schema.py`` declares), so each is created only when missing.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES: list[tuple[str, str, list[str], dict[str, object]]] = [
    (
        "ix_tables_live_order",
        "tables",
        ["dropped_at", "warehouse", "schema", "name"],
        {"mysql_length": {"warehouse": 150, "schema": 150, "name": 300}},
    ),
    ("ix_incidents_table_status", "incidents", ["table_id", "status"], {}),
    ("ix_run_tables_table", "run_tables", ["table_id", "run_id"], {}),
]


def _has(table: str, name: str) -> bool:
    return any(i["name"] == name for i in sa.inspect(op.get_bind()).get_indexes(table))


def upgrade() -> None:
    for name, table, cols, kw in INDEXES:
        if not _has(table, name):
            op.create_index(name, table, cols, **kw)


def downgrade() -> None:
    bind = op.get_bind()
    for name, table, cols, _ in INDEXES:
        if not _has(table, name):
            continue
        if bind.dialect.name == "mysql":
            # InnoDB serves a foreign key from any index that leads with its column and
            # refuses to drop the last one; give the key back the index it had before
            insp = sa.inspect(bind)
            others = [
                i
                for i in insp.get_indexes(table)
                if i["name"] != name and i["column_names"][:1] == cols[:1]
            ]
            fks = [
                f
                for f in insp.get_foreign_keys(table)
                if f["constrained_columns"][:1] == cols[:1] and f.get("name")
            ]
            if fks and not others:
                op.create_index(str(fks[0]["name"]), table, cols[:1])
        op.drop_index(name, table)

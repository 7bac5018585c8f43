"""metric_points: the (table_id, bucket_start) index covers history reads on PostgreSQL.

``ix_metric_points_table_time`` replaces ``ix_metric_points_table_bucket`` — same key, and
on PostgreSQL it also carries every column a history read returns (INCLUDE), so reading a
table's time window touches only that window's index entries instead of one heap page per
run that wrote them. On SQLite and MariaDB the new index is the old one renamed.

Stores created by revision 0001 after this change already have the new index (0001 creates
what ``schema.py`` declares), so each step checks what is there first. On PostgreSQL the
build reads the whole table and blocks writes to it meanwhile: 198 s and 262 s in two
upgrades of a 100-million-point store on a shared 2-core machine (``bench/store_history.py``).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "metric_points"
OLD = "ix_metric_points_table_bucket"
NEW = "ix_metric_points_table_time"
KEY = ["table_id", "bucket_start"]
INCLUDE = ["metric", "column_name", "segment", "bucket_seconds", "value"]


def _indexes() -> set[str]:
    return {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(TABLE) if i["name"]}


def upgrade() -> None:
    have = _indexes()
    if NEW not in have:
        op.create_index(NEW, TABLE, KEY, postgresql_include=INCLUDE)
    if OLD in have:
        op.drop_index(OLD, TABLE)


def downgrade() -> None:
    have = _indexes()
    if OLD not in have:
        op.create_index(OLD, TABLE, KEY)
    if NEW in have:
        op.drop_index(NEW, TABLE)

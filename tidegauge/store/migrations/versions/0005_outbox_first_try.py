"""When a delivery was first tried: ``outbox.first_try_at``.

A channel's ``retry_for`` budget counts from the first try, not from when the message was
queued, so a message held through quiet hours (or queued while no sender ran) still gets
its whole budget once it may go out. Rows queued before this revision have no first try
recorded; their budget counts from ``created_at`` as before.

Stores created by revision 0001 after the column was declared already have it (0001
creates what ``schema.py`` declares), so it is added only when missing.

Revision ID: 0005_outbox_first_try
Revises: 0004_severity_reason
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_outbox_first_try"
down_revision = "0004_severity_reason"
branch_labels = None
depends_on = None


def _has_column() -> bool:
    cols = sa.inspect(op.get_bind()).get_columns("outbox")
    return any(c["name"] == "first_try_at" for c in cols)


def upgrade() -> None:
    if not _has_column():
        with op.batch_alter_table("outbox") as batch:
            batch.add_column(sa.Column("first_try_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if _has_column():
        with op.batch_alter_table("outbox") as batch:
            batch.drop_column("first_try_at")

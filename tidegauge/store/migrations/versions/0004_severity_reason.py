"""Why an incident has its severity: ``incidents.severity_reason``, a JSON list of short
plain-language reasons (size of the change, how long it lasted, how far it reaches; see
``tidegauge.core.severity``), kept with the incident so the web, notifications and the
JSON API say the same thing without recomputing it.

Stores created by revision 0001 after the column was declared already have it (0001
creates what ``schema.py`` declares), so it is added only when missing.

Revision ID: 0004_severity_reason
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_severity_reason"
down_revision = "0003"
branch_labels = None
depends_on = None


def _has_column() -> bool:
    cols = sa.inspect(op.get_bind()).get_columns("incidents")
    return any(c["name"] == "severity_reason" for c in cols)


def upgrade() -> None:
    if not _has_column():
        with op.batch_alter_table("incidents") as batch:
            batch.add_column(sa.Column("severity_reason", sa.JSON(), nullable=True))


def downgrade() -> None:
    if _has_column():
        with op.batch_alter_table("incidents") as batch:
            batch.drop_column("severity_reason")

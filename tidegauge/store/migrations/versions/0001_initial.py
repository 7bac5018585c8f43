"""The initial store: inventory, metrics, alerts, incidents, lineage, outbox.

Until the first release this revision creates the tables as ``schema.py`` declares
them; from then on every change gets its own revision (``make migration``) and a test
checks that the migrated database matches ``schema.py`` exactly.

Revision ID: 0001
Revises:
"""

from alembic import op

from tidegauge.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())

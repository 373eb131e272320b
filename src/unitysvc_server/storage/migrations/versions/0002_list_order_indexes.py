"""list order indexes

Keyset pages of aliases, enrollments and recurrent requests seek the index on
``(customer_id, created_at, id)``: the lists' order with its id tie-break (issue 14).
Broadcasts and chains are ordered by name, which their unique ``(customer_id, name)``
index already covers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 16:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "aliases": "ix_aliases_customer_created",
    "enrollments": "ix_enrollments_customer_created",
    "recurrent_requests": "ix_recurrent_requests_customer_created",
}


def upgrade() -> None:
    for table, index in _INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(index, ["customer_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    for table, index in _INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)

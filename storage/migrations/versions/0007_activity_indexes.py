"""Indexes that cover the activity dashboard: sends per day and application, the median time from
upload to delivery (``delivery``), and documents received per day (``document_version``).

Measured with ``bench/history.py --only activity`` on 1,000,000 deliveries (SQLite); figures in
docs/performance.md.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_delivery_sent_activity",
        "delivery",
        ["firm_id", "status", "sent_at", "connection_id", "created_at"],
    )
    op.create_index(
        "ix_document_version_firm_created", "document_version", ["firm_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_document_version_firm_created", table_name="document_version")
    op.drop_index("ix_delivery_sent_activity", table_name="delivery")

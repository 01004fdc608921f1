"""Failed-send notices in Teams: which failures the dossier master was told of, and how each
person wants to hear of them.

``delivery.notified_at`` (NULL while a failure is untold) with the partial index
``ix_delivery_unnotified`` on ``(firm_id, dossier_id)`` where ``status = 'failed' AND notified_at
IS NULL`` (both SQLite and PostgreSQL support partial indexes), and on ``staff_user`` the choice
``failure_notices`` (``immediate``, ``daily``, ``off``) and ``last_digest_at``. Failures already
there count as told: nobody gets a message about last month's failures on the day of the upgrade.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_UNTOLD = "status = 'failed' AND notified_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "failure_notices",
                sa.String(length=16),
                nullable=False,
                server_default="immediate",
            )
        )
        batch_op.add_column(sa.Column("last_digest_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE delivery SET notified_at = CURRENT_TIMESTAMP WHERE status = 'failed'")
    op.create_index(
        "ix_delivery_unnotified",
        "delivery",
        ["firm_id", "dossier_id"],
        unique=False,
        sqlite_where=sa.text(_UNTOLD),
        postgresql_where=sa.text(_UNTOLD),
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), not batch mode: rebuilding ``delivery`` or ``staff_user``
    # would let the ON DELETE CASCADE of the tables that point at them empty those tables.
    op.drop_index("ix_delivery_unnotified", table_name="delivery")
    op.drop_column("delivery", "notified_at")
    op.drop_column("staff_user", "last_digest_at")
    op.drop_column("staff_user", "failure_notices")

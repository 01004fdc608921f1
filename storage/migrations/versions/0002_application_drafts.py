"""application drafts: the add-application wizard's state, kept server-side

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "application_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("catalog_app_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["catalog_app_id"],
            ["catalog_app.id"],
            name=op.f("fk_application_draft_catalog_app_id_catalog_app"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["firm_id"],
            ["firm.id"],
            name=op.f("fk_application_draft_firm_id_firm"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_application_draft_staff_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_draft")),
    )
    with op.batch_alter_table("application_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_application_draft_firm_id"), ["firm_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_application_draft_staff_user_id"), ["staff_user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("application_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_draft_staff_user_id"))
        batch_op.drop_index(batch_op.f("ix_application_draft_firm_id"))
    op.drop_table("application_draft")

"""Panel sessions on the server: ``panel_session``, one row per sign-in to the admin panel, so that
signing out, the idle timeout and the absolute lifetime hold even for a copy of the cookie.

The cookie carries a random token; the row is keyed by its SHA-256 (``token_hash``). Cookies
issued before this revision carry no token and are refused: everyone signs in again once.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "panel_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["firm_id"], ["firm.id"], name=op.f("fk_panel_session_firm_id_firm"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_panel_session_staff_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_panel_session")),
    )
    op.create_index(op.f("ix_panel_session_firm_id"), "panel_session", ["firm_id"])
    op.create_index(op.f("ix_panel_session_staff_user_id"), "panel_session", ["staff_user_id"])
    op.create_index(op.f("ix_panel_session_created_at"), "panel_session", ["created_at"])


def downgrade() -> None:
    op.drop_table("panel_session")

"""A delivery outlives its connection: deleting an application keeps the send history.

``delivery.connection_id`` becomes nullable with ``ON DELETE SET NULL`` (it was ``CASCADE``, so
deleting a firm application erased every delivery and attempt of its documents), and each
delivery keeps what the history and the dashboards read through the connection: its dossier
(``dossier_id``) and the application's label (``application_label``). Existing rows are filled
from their connections.

On SQLite, batch mode rebuilds ``delivery``; the copy-and-drop would let ``ON DELETE CASCADE``
empty ``delivery_attempt`` (foreign keys are on, and a pragma cannot switch them off inside the
migration's transaction), so the attempts are kept aside and put back.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_KEPT = "relais_0004_attempts"


def _keep_attempts() -> bool:
    if op.get_bind().dialect.name != "sqlite":
        return False
    op.execute(f"CREATE TEMP TABLE {_KEPT} AS SELECT * FROM delivery_attempt")
    return True


def _restore_attempts() -> None:
    op.execute(
        f"INSERT INTO delivery_attempt SELECT * FROM {_KEPT} "
        f"WHERE delivery_id IN (SELECT id FROM delivery) "
        f"AND id NOT IN (SELECT id FROM delivery_attempt)"
    )
    op.execute(f"DROP TABLE {_KEPT}")


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dossier_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("application_label", sa.String(length=200), nullable=False, server_default="")
        )
    op.execute(
        """
        UPDATE delivery SET
            dossier_id = (
                SELECT connection.dossier_id FROM connection
                WHERE connection.id = delivery.connection_id
            ),
            application_label = COALESCE((
                SELECT catalog_app.label FROM connection
                JOIN firm_application ON firm_application.id = connection.firm_application_id
                JOIN catalog_app ON catalog_app.id = firm_application.catalog_app_id
                WHERE connection.id = delivery.connection_id
            ), '')
        """
    )
    kept = _keep_attempts()
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("application_label", server_default=None)
        batch_op.alter_column("dossier_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("connection_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint("fk_delivery_connection_id_connection", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_delivery_connection_id_connection",
            "connection",
            ["connection_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            "fk_delivery_dossier_id_dossier", "dossier", ["dossier_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_delivery_dossier_id", ["dossier_id"], unique=False)
    if kept:
        _restore_attempts()


def downgrade() -> None:
    # Deliveries of deleted applications have no connection to go back to: they go (and, as
    # before this revision, their attempts with them).
    op.execute("DELETE FROM delivery WHERE connection_id IS NULL")
    kept = _keep_attempts()
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_dossier_id")
        batch_op.drop_constraint("fk_delivery_dossier_id_dossier", type_="foreignkey")
        batch_op.drop_constraint("fk_delivery_connection_id_connection", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_delivery_connection_id_connection",
            "connection",
            ["connection_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.alter_column("connection_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("application_label")
        batch_op.drop_column("dossier_id")
    if kept:
        _restore_attempts()

"""The domain schema (DESIGN.md, glossary). Every row that belongs to a firm carries ``firm_id``.

Enumerations are stored as short strings checked by the code, not as database enums, so that a
new value is a code change rather than a migration on PostgreSQL.

The whole schema stays in this one module (some 500 lines) on purpose: the tables refer to each
other, and Alembic's migrations are checked against it as one picture.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UtcDateTime

# Stable constraint names so Alembic's batch mode (SQLite) can alter tables later.
NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime()}


class FirmOwned:
    """Mixin: the owning firm, on every firm row, indexed because every query filters on it."""

    firm_id: Mapped[int] = mapped_column(ForeignKey("firm.id", ondelete="CASCADE"), index=True)


# --------------------------------------------------------------------------- firms and people


class Firm(Base):
    __tablename__ = "firm"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[str] = mapped_column(String(64), unique=True)
    domain: Mapped[str] = mapped_column(String(200), default="")
    # consent: none | granted | failed
    consent_state: Mapped[str] = mapped_column(String(16), default="none")
    consent_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    consent_error: Mapped[str] = mapped_column(Text, default="")
    sic_codes: Mapped[list[Any]] = mapped_column(default=list)
    default_locale: Mapped[str] = mapped_column(String(8), default="fr")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffUser(FirmOwned, Base):
    __tablename__ = "staff_user"
    __table_args__ = (
        UniqueConstraint("firm_id", "entra_object_id"),
        UniqueConstraint("firm_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entra_object_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    # role: administrator | collaborator
    role: Mapped[str] = mapped_column(String(16), default="collaborator")
    rights_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # failure_notices: immediate | daily | off — how this person hears in Teams of the failed
    # sends of the dossiers they are master of (hub/notices/).
    failure_notices: Mapped[str] = mapped_column(
        String(16), default="immediate", server_default="immediate"
    )
    last_digest_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "administrator"


class Dossier(FirmOwned, Base):
    __tablename__ = "dossier"
    __table_args__ = (
        UniqueConstraint("firm_id", "code"),
        Index("ix_dossier_firm_name", "firm_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    # status: active | inactive | archived
    status: Mapped[str] = mapped_column(String(16), default="active")
    # teams_status: to_prepare | operational
    teams_status: Mapped[str] = mapped_column(String(16), default="to_prepare")
    master_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    engagement_manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    master: Mapped[StaffUser | None] = relationship(foreign_keys=[master_id])
    engagement_manager: Mapped[StaffUser | None] = relationship(
        foreign_keys=[engagement_manager_id]
    )


class Contact(FirmOwned, Base):
    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("firm_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str] = mapped_column(String(40), default="")
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    # Set once the contact is a guest on the firm's tenant (invitation accepted or found).
    entra_object_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    # guest_state: none | invited | guest | failed
    guest_state: Mapped[str] = mapped_column(String(16), default="none")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


class ContactDossier(FirmOwned, Base):
    __tablename__ = "contact_dossier"
    __table_args__ = (UniqueConstraint("contact_id", "dossier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )


class Folder(FirmOwned, Base):
    """One folder of the firm's standard tree, shared by every dossier (``Achats/2025``)."""

    __tablename__ = "folder"
    __table_args__ = (UniqueConstraint("firm_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("folder.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # Full path with "/" separators; "connecting a folder includes its sub-folders" is a prefix test.
    path: Mapped[str] = mapped_column(String(1000))


# --------------------------------------------------------------------------- applications


class CatalogApp(Base):
    """An application Relais knows, shipped as data (not firm-owned)."""

    __tablename__ = "catalog_app"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    # kind: platform | partner | firm
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"fr": ..., "en": ...}
    # connection: api | collection_email | none
    connection: Mapped[str] = mapped_column(String(24), default="none")
    needs_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    bulk_dossiers: Mapped[bool] = mapped_column(Boolean, default=True)
    # document_type: purchases | sales | None
    document_type: Mapped[str | None] = mapped_column(String(24), default=None)
    requires_api_key_id: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_secret: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_api_url: Mapped[bool] = mapped_column(Boolean, default=False)
    generates_collection_email: Mapped[bool] = mapped_column(Boolean, default=False)
    fields: Mapped[list[Any]] = mapped_column(default=list)  # [{name, label, required, pattern}]
    max_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    accepted_formats: Mapped[list[Any]] = mapped_column(default=list)  # MIME types
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class FirmApplication(FirmOwned, Base):
    __tablename__ = "firm_application"
    __table_args__ = (UniqueConstraint("firm_id", "catalog_app_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    catalog_app_id: Mapped[int] = mapped_column(ForeignKey("catalog_app.id"))
    api_key_id: Mapped[str] = mapped_column(String(200), default="")
    # Fernet token; never shown again after entry.
    secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    api_url: Mapped[str] = mapped_column(String(500), default="")
    specific_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sic_code: Mapped[str] = mapped_column(String(32), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    partner_email: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    catalog_app: Mapped[CatalogApp] = relationship(lazy="joined")


class Connection(FirmOwned, Base):
    """A firm application switched on for a dossier (and, for automation, how to reach it)."""

    __tablename__ = "connection"
    __table_args__ = (UniqueConstraint("firm_application_id", "dossier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_application_id: Mapped[int] = mapped_column(
        ForeignKey("firm_application.id", ondelete="CASCADE"), index=True
    )
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    dossier_code_at_app: Mapped[str] = mapped_column(String(100), default="")
    collection_email: Mapped[str] = mapped_column(String(320), default="")
    access_authorized: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConnectionFolder(FirmOwned, Base):
    __tablename__ = "connection_folder"
    __table_args__ = (UniqueConstraint("connection_id", "folder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("connection.id", ondelete="CASCADE"), index=True
    )
    folder_id: Mapped[int] = mapped_column(ForeignKey("folder.id", ondelete="CASCADE"))
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactAccess(FirmOwned, Base):
    """A platform application given (or offered) to a contact for a dossier."""

    __tablename__ = "contact_access"
    __table_args__ = (UniqueConstraint("firm_application_id", "contact_id", "dossier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_application_id: Mapped[int] = mapped_column(
        ForeignKey("firm_application.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id", ondelete="CASCADE"))
    # state: granted | offered | accepted | declined | revoked | unreachable
    # granted: given directly by staff in the panel's applications dialog (no answer awaited);
    # offered/accepted/declined: an offer card sent in Teams and the contact's answer;
    # revoked: withdrawn (unticked, application switched off or deleted, contact unlinked).
    state: Mapped[str] = mapped_column(String(16), default="offered")
    offered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    # Teams message id of the offer card, to update it in place.
    activity_id: Mapped[str] = mapped_column(String(200), default="")


class ApplicationDraft(FirmOwned, Base):
    """An add-application wizard in progress, kept server-side for one staff member.

    ``selection`` is a rule, not a list of every dossier: ``{"all": bool, "query": str | None,
    "included": [ids], "excluded": [ids]}`` ("apply to all" matching ``query``, minus exclusions,
    plus the ones ticked by hand), so a selection of 10,000 dossiers stays a few bytes.
    """

    __tablename__ = "application_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    catalog_app_id: Mapped[int] = mapped_column(ForeignKey("catalog_app.id", ondelete="CASCADE"))
    # The step-1 values except the secret (api_key_id, api_url, fields, sic_code, ...).
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Fernet token, like FirmApplication.secret_encrypted; never shown again.
    secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Invitation(FirmOwned, Base):
    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contact.id", ondelete="CASCADE"), index=True
    )
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    graph_invitation_id: Mapped[str] = mapped_column(String(100), default="")
    graph_user_id: Mapped[str] = mapped_column(String(100), default="")
    redeem_url: Mapped[str] = mapped_column(Text, default="")
    # status: pending | accepted | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiToken(FirmOwned, Base):
    """A firm's token for the document REST API; only its hash is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class PanelSession(FirmOwned, Base):
    """A signed-in panel session, on the server, so that signing out (or its end) holds even
    for a copy of the cookie. The cookie carries the random token; only its SHA-256 is kept."""

    __tablename__ = "panel_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


# --------------------------------------------------------------------------- documents


class Document(FirmOwned, Base):
    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("dossier_id", "folder_id", "name"),
        Index("ix_document_firm_name", "firm_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    folder_id: Mapped[int] = mapped_column(ForeignKey("folder.id"))
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentVersion(FirmOwned, Base):
    __tablename__ = "document_version"
    __table_args__ = (
        UniqueConstraint("document_id", "number"),
        # The activity dashboard's documents received per day (hub/dashboards/).
        Index("ix_document_version_firm_created", "firm_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    # uploaded_by: "staff:<id>", "contact:<id>", "token:<id>", "cli"
    uploaded_by: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # panel | api | bot | cli
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(FirmOwned, Base):
    """The outbox: one document version to one connection, exactly once."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("document_version_id", "connection_id"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_firm_status_created", "firm_id", "status", "created_at", "id"),
        # Covers the dashboard's counts by reason and by application (bench/history.py).
        Index("ix_delivery_failure_counts", "firm_id", "status", "connection_id", "failure_reason"),
        # Covers the activity dashboard's sends per day and application and its median delay.
        Index(
            "ix_delivery_sent_activity",
            "firm_id",
            "status",
            "sent_at",
            "connection_id",
            "created_at",
        ),
        # The notice dispatcher's "failed and not yet told" (hub/notices/): a partial
        # index, so it stays as small as the backlog of untold failures.
        Index(
            "ix_delivery_unnotified",
            "firm_id",
            "dossier_id",
            sqlite_where=text("status = 'failed' AND notified_at IS NULL"),
            postgresql_where=text("status = 'failed' AND notified_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_version_id: Mapped[int] = mapped_column(
        ForeignKey("document_version.id", ondelete="CASCADE"), index=True
    )
    # NULL once the connection is gone (its application was deleted): the delivery stays, as the
    # document's history, with what it needs to be shown kept below (revision 0004).
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connection.id", ondelete="SET NULL"), index=True
    )
    # Copied from the connection when the delivery is queued, so that the history and the
    # dashboards need the connection neither to show a delivery nor to filter it by dossier.
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossier.id", ondelete="CASCADE"), index=True
    )
    application_label: Mapped[str] = mapped_column(String(200), default="")
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True, default=new_id)
    # status: pending | sending | sent | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # failure_reason: too_large | format_refused | dossier_unknown | dossier_inactive |
    #                 credentials_refused | rejected | not_configured | disconnected |
    #                 application_deleted | gave_up (connectors.outcomes)
    failure_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    app_reference: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the dossier master was told of this failure in Teams (or it was settled without a
    # message: no master, notices off, too old); NULL while a failure is still to be told.
    notified_at: Mapped[datetime | None] = mapped_column(default=None)


class DeliveryAttempt(FirmOwned, Base):
    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("delivery.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))  # sent | refused | fault
    detail: Mapped[str] = mapped_column(Text, default="")


# --------------------------------------------------------------------------- audit and bot


class AuditEvent(FirmOwned, Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_firm_at", "firm_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # actor: "staff:<id>", "contact:<id>", "system"
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class BotState(Base):
    """botbuilder's key-value state (conversation and user state), stored as JSON documents."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    etag: Mapped[str] = mapped_column(String(64), default=new_id)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConversationRef(FirmOwned, Base):
    """Where to reach a person proactively: the stored Bot Framework conversation reference."""

    __tablename__ = "conversation_ref"
    __table_args__ = (UniqueConstraint("firm_id", "aad_object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    aad_object_id: Mapped[str] = mapped_column(String(64))
    # person: "staff:<id>" or "contact:<id>"
    person: Mapped[str] = mapped_column(String(64))
    reference: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

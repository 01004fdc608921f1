"""Deleting a firm application: what it would do beforehand, then the deletion with its revoked
contact accesses, its cancelled deliveries and the letters to the dossier masters concerned.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.outcomes import APPLICATION_DELETED
from hub.applications.letters import letters, send_letters
from hub.applications.queries import firm_app
from hub.applications.views import CatalogEntry, Deleted, DeletionPreview, RevokedAccess
from hub.audit import record
from hub.identity import Actor
from hub.rights import require_admin
from hub.services import Hub
from storage.models import (
    AuditEvent,
    Connection,
    Contact,
    ContactAccess,
    Delivery,
    Dossier,
    StaffUser,
    utcnow,
)

# Accesses that a contact holds or is being offered; declined or already revoked ones lose nothing.
LIVE_ACCESS_STATES = ("granted", "offered", "accepted")


async def deletion_preview(hub: Hub, actor: Actor, app_id: int) -> DeletionPreview:
    """What deleting would do, for the confirmation page to say beforehand."""
    require_admin(actor)
    async with hub.sessions() as session:
        app = await firm_app(session, actor, app_id)
        connections = await _connection_count(session, actor, app.id)
        revoked = await _live_accesses(session, actor, app.id)
    return DeletionPreview(
        id=app.id,
        entry=CatalogEntry.of(app.catalog_app),
        connections=connections,
        accesses=len(revoked),
        masters=len({r.master_id for r in revoked if r.master_id is not None}),
    )


async def delete_application(hub: Hub, actor: Actor, app_id: int) -> Deleted:
    """Delete a firm application; for a platform one, revoke its contact accesses and email
    every dossier master concerned (after the commit: a failed mail never undoes the deletion).

    The application row goes, and with it (``ON DELETE CASCADE``) its connections and contact
    accesses: keeping them would need a tombstone on ``firm_application``, which would also stop
    the firm from adding the application again. So the history is the audit trail: one
    ``application.deleted`` event and one ``contact_access.revoked`` event per access revoked.
    The documents' deliveries are not the application's but the documents' history: they stay,
    without their connection, and those still waiting end failed (``application_deleted``).
    """
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        app = await firm_app(session, actor, app_id)
        entry = CatalogEntry.of(app.catalog_app)
        connections = await _connection_count(session, actor, app.id)
        revoked = await _live_accesses(session, actor, app.id) if entry.kind == "platform" else []
        master_ids = {r.master_id for r in revoked if r.master_id is not None}
        masters: dict[int, StaffUser] = {}
        if master_ids:
            masters = {
                m.id: m
                for m in await session.scalars(
                    select(StaffUser).where(
                        StaffUser.firm_id == actor.firm_id, StaffUser.id.in_(master_ids)
                    )
                )
            }
        cancelled = await _cancel_pending(session, actor, app.id)
        # The deliveries stay (``ON DELETE SET NULL``) with their dossier and the application's
        # label: the documents' history and the dashboards keep what was sent where.
        await session.execute(
            delete(Connection).where(
                Connection.firm_id == actor.firm_id, Connection.firm_application_id == app.id
            )
        )
        await session.execute(
            delete(ContactAccess).where(
                ContactAccess.firm_id == actor.firm_id, ContactAccess.firm_application_id == app.id
            )
        )
        await session.delete(app)
        record(
            session,
            actor.firm_id,
            actor.ref,
            "application.deleted",
            "firm_application",
            app_id,
            app=entry.slug,
            label=entry.label,
            kind=entry.kind,
            connections=connections,
            revoked=len(revoked),
            masters=len(masters),
            cancelled=cancelled,
        )
        if revoked:
            now = utcnow()
            await session.execute(
                insert(AuditEvent),
                [
                    {
                        "firm_id": actor.firm_id,
                        "at": now,
                        "actor": actor.ref,
                        "action": "contact_access.revoked",
                        "target_type": "contact_access",
                        "target_id": str(r.access_id),
                        "details": {
                            "app": entry.slug,
                            "contact_id": r.contact_id,
                            "dossier_id": r.dossier_id,
                            "dossier": r.dossier_code,
                            "reason": "application_deleted",
                        },
                    }
                    for r in revoked
                ],
            )
        mails = letters(actor, entry, revoked, masters)
    sent, failures = await send_letters(hub, entry, mails)
    return Deleted(
        label=entry.label,
        kind=entry.kind,
        connections=connections,
        revoked=len(revoked),
        mails_sent=sent,
        mail_failures=failures,
        cancelled=cancelled,
    )


async def _cancel_pending(session: AsyncSession, actor: Actor, app_id: int) -> int:
    """Fail the application's deliveries that wait to be sent. Those being sent right now are
    left to their worker: it records what the application answered, and a delivery that comes
    back to wait is refused then (``application_deleted``, connectors/worker.py)."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.firm_id == actor.firm_id,
            Delivery.status == "pending",
            Delivery.connection_id.in_(
                select(Connection.id).where(
                    Connection.firm_id == actor.firm_id, Connection.firm_application_id == app_id
                )
            ),
        )
        # Told already: the person deleting was warned, and nothing of it can be sent again, so
        # the dossier masters' failure notices (hub/notices/) leave these out.
        .values(
            status="failed",
            failure_reason=APPLICATION_DELETED,
            lease_until=None,
            notified_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _connection_count(session: AsyncSession, actor: Actor, app_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Connection)
            .where(Connection.firm_id == actor.firm_id, Connection.firm_application_id == app_id)
        )
        or 0
    )


async def _live_accesses(session: AsyncSession, actor: Actor, app_id: int) -> list[RevokedAccess]:
    rows = await session.execute(
        select(ContactAccess.id, Contact, Dossier)
        .join(Contact, Contact.id == ContactAccess.contact_id)
        .join(Dossier, Dossier.id == ContactAccess.dossier_id)
        .where(
            ContactAccess.firm_id == actor.firm_id,
            ContactAccess.firm_application_id == app_id,
            ContactAccess.state.in_(LIVE_ACCESS_STATES),
        )
        .order_by(Dossier.code, Contact.last_name, Contact.first_name)
    )
    return [
        RevokedAccess(
            access_id=access_id,
            contact_id=contact.id,
            contact=contact.display_name,
            contact_email=contact.email,
            dossier_id=dossier.id,
            dossier_code=dossier.code,
            dossier_name=dossier.name,
            master_id=dossier.master_id,
        )
        for access_id, contact, dossier in rows
    ]

"""The import use-cases: check the whole file, then apply it in one transaction."""

from __future__ import annotations

from hub import audit
from hub.identity import Actor
from hub.imports.contacts import upsert_contacts
from hub.imports.csvfile import Problems
from hub.imports.dossiers import upsert_dossiers
from hub.imports.rows import ImportReport, check_kind, read_rows
from hub.imports.staff import upsert_staff
from hub.rights import require_admin
from hub.services import Hub


async def import_file(hub: Hub, actor: Actor, kind: str, data: bytes) -> ImportReport:
    """Check the whole file, then apply it in one transaction; raise ImportRejected if any line is bad."""
    check_kind(kind)
    _require_importer(actor)
    problems = Problems("import.reason")
    rows = read_rows(kind, data, problems)
    run = {"staff": upsert_staff, "dossiers": upsert_dossiers, "contacts": upsert_contacts}[kind]
    async with hub.sessions() as session, session.begin():
        report = await run(session, actor.firm_id, rows, problems)
        if report.created or report.updated:
            audit.record(
                session,
                actor.firm_id,
                _actor_ref(actor),
                f"import.{kind}",
                "import",
                kind,
                created=report.created,
                updated=report.updated,
                unchanged=report.unchanged,
                lines=report.total,
            )
    return report


async def import_staff(hub: Hub, actor: Actor, data: bytes) -> ImportReport:
    return await import_file(hub, actor, "staff", data)


async def import_dossiers(hub: Hub, actor: Actor, data: bytes) -> ImportReport:
    return await import_file(hub, actor, "dossiers", data)


async def import_contacts(hub: Hub, actor: Actor, data: bytes) -> ImportReport:
    return await import_file(hub, actor, "contacts", data)


def _require_importer(actor: Actor) -> None:
    if actor.kind == "system":
        return
    require_admin(actor)


def _actor_ref(actor: Actor) -> str:
    return "system" if actor.kind == "system" else actor.ref

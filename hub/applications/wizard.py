"""The 3-step add wizard (seed 003 §1, workflow 1): define, choose dossiers, validate.

The state is kept server-side in an :class:`~storage.models.ApplicationDraft` that belongs to one
staff member; the dossier choice is a rule (:class:`~hub.applications.views.Selection`). Drafts
are scratch state, not a change of the firm, so they are not audited; the final Validate is.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.applications.dossiers import count_dossiers, dossier_page, search_where, selection_where
from hub.applications.queries import addable, catalog_app, sic_codes
from hub.applications.validation import (
    address_refused,
    clean,
    https_only,
    same_host,
    unknown_app,
)
from hub.applications.views import (
    Added,
    CatalogEntry,
    Definition,
    DossierPicker,
    DraftView,
    Selection,
    Summary,
)
from hub.audit import record
from hub.errors import Conflict, NotFound
from hub.identity import Actor
from hub.rights import require_admin
from hub.services import Hub
from storage.models import ApplicationDraft, Connection, Dossier, FirmApplication, utcnow

DRAFT_LIFETIME = timedelta(days=2)


async def save_draft(
    hub: Hub, actor: Actor, definition: Definition, draft_id: int | None = None
) -> int:
    """Step 1: check the definition and keep it in a (new or existing) draft; returns its id."""
    require_admin(actor)
    # Asked before the transaction: a name lookup may take seconds.
    unreachable = await address_refused(hub, definition.api_url)
    async with hub.sessions() as session, session.begin():
        entry = await _addable_entry(session, actor, definition.app)
        draft = await _draft(session, actor, draft_id, lock=True) if draft_id is not None else None
        keep_secret = draft is not None and draft.catalog_app_id == entry.id
        stored = keep_secret and draft is not None and draft.secret_encrypted is not None
        values = clean(
            entry,
            definition,
            await sic_codes(session, actor),
            secret_stored=stored,
            https_only=https_only(hub),
            unreachable=unreachable,
            # Back to step 1 with the API URL on another host: the secret typed for the first
            # one is not sent to the second without being typed again.
            secret_moved=stored
            and draft is not None
            and entry.requires_api_url
            and not same_host(str(draft.values.get("api_url", "")), definition.api_url),
        )
        if draft is None:
            # Abandoned wizards would pile up otherwise: the firm's stale drafts go now.
            await session.execute(
                delete(ApplicationDraft).where(
                    ApplicationDraft.firm_id == actor.firm_id,
                    ApplicationDraft.updated_at < utcnow() - DRAFT_LIFETIME,
                )
            )
            draft = ApplicationDraft(
                firm_id=actor.firm_id, staff_user_id=actor.id, selection=Selection().to_json()
            )
            session.add(draft)
        elif not keep_secret:
            # Another application: the previous one's secret and dossier choice do not carry over.
            draft.secret_encrypted = None
            draft.selection = Selection().to_json()
        draft.catalog_app_id = entry.id
        draft.values = values
        draft.updated_at = utcnow()
        if definition.secret.strip():
            draft.secret_encrypted = hub.vault.seal(definition.secret.strip())
        await session.flush()
        return draft.id


async def get_draft(hub: Hub, actor: Actor, draft_id: int) -> DraftView:
    require_admin(actor)
    async with hub.sessions() as session:
        return await _draft_view(session, actor, await _draft(session, actor, draft_id))


async def browse_dossiers(
    hub: Hub, actor: Actor, draft_id: int, query: str | None, page: int = 1
) -> DossierPicker:
    """Step 2: one page (50) of the firm's dossiers matching ``query``, ticked per the rule."""
    require_admin(actor)
    async with hub.sessions() as session:
        draft = await _draft(session, actor, draft_id)
        view = await _draft_view(session, actor, draft)
        listed = and_(Dossier.firm_id == actor.firm_id, search_where(query))
        rows = await dossier_page(session, listed, view.selection, actor.firm_id, page)
        selected = await count_dossiers(session, selection_where(actor.firm_id, view.selection))
    return DossierPicker(draft=view, query=query, page=rows, selected=selected)


async def tick_dossiers(
    hub: Hub, actor: Actor, draft_id: int, shown: Collection[int], ticked: Collection[int]
) -> int:
    """Record the boxes of the page the person saw (``shown``), ticked or not; the new count."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        draft = await _draft(session, actor, draft_id, lock=True)
        rule = Selection.from_json(draft.selection)
        # Only this firm's dossiers: a forged id of another firm is dropped here (and again at
        # Validate, whose query is firm-scoped).
        mine: set[int] = set()
        if shown:
            mine = set(
                await session.scalars(
                    select(Dossier.id).where(
                        Dossier.firm_id == actor.firm_id, Dossier.id.in_(set(shown))
                    )
                )
            )
        on = mine & set(ticked)
        off = mine - on
        included = (set(rule.included) | on) - off
        excluded = ((set(rule.excluded) | off) - on) if rule.all else set()
        rule = Selection(rule.all, rule.query, frozenset(included), frozenset(excluded))
        draft.selection = rule.to_json()
        draft.updated_at = utcnow()
        await session.flush()
        return await count_dossiers(session, selection_where(actor.firm_id, rule))


async def select_all(hub: Hub, actor: Actor, draft_id: int, query: str | None = None) -> int:
    """ "Apply to all": every dossier matching ``query`` (every one when None), on every page.

    Stored as a rule, computed by the database; returns how many dossiers are now selected.
    """
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        draft = await _draft(session, actor, draft_id, lock=True)
        previous = Selection.from_json(draft.selection)
        rule = Selection(all=True, query=query, included=previous.included)
        draft.selection = rule.to_json()
        draft.updated_at = utcnow()
        return await count_dossiers(session, selection_where(actor.firm_id, rule))


async def clear_selection(hub: Hub, actor: Actor, draft_id: int) -> int:
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        draft = await _draft(session, actor, draft_id, lock=True)
        draft.selection = Selection().to_json()
        draft.updated_at = utcnow()
        return 0


async def draft_summary(hub: Hub, actor: Actor, draft_id: int, page: int = 1) -> Summary:
    """Step 3: the definition, and the dossiers it will be attached to (count and a page)."""
    require_admin(actor)
    async with hub.sessions() as session:
        draft = await _draft(session, actor, draft_id)
        view = await _draft_view(session, actor, draft)
        rule = view.selection if view.entry.takes_dossiers else Selection()
        chosen = selection_where(actor.firm_id, rule)
        rows = await dossier_page(session, chosen, rule, actor.firm_id, page)
    return Summary(draft=view, count=rows.total, page=rows)


async def validate_draft(hub: Hub, actor: Actor, draft_id: int) -> Added:
    """Validate: the firm application and its dossier connections, in one transaction."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        draft = await _draft(session, actor, draft_id, lock=True)
        entry = CatalogEntry.of(await catalog_app(session, draft.catalog_app_id))
        values = dict(draft.values)
        definition = Definition(
            app=entry.slug,
            api_key_id=values.get("api_key_id", ""),
            api_url=values.get("api_url", ""),
            fields=values.get("fields", {}),
            sic_code=values.get("sic_code", ""),
            is_default=bool(values.get("is_default")),
            partner_email=values.get("partner_email", ""),
        )
        added = await _add(
            session,
            hub,
            actor,
            entry,
            definition,
            draft.secret_encrypted,
            Selection.from_json(draft.selection),
        )
        await session.delete(draft)
    return added


async def add_application(
    hub: Hub, actor: Actor, definition: Definition, selection: Selection | None = None
) -> Added:
    """The whole wizard in one call (the bot, scripts, ``bench/bulk.py``): add and attach.

    ``selection=Selection.everything()`` attaches every dossier of the firm ("apply to all").
    """
    require_admin(actor)
    unreachable = await address_refused(hub, definition.api_url)
    async with hub.sessions() as session, session.begin():
        entry = await _addable_entry(session, actor, definition.app)
        sealed = hub.vault.seal(definition.secret.strip()) if definition.secret.strip() else None
        return await _add(
            session,
            hub,
            actor,
            entry,
            definition,
            sealed,
            selection or Selection(),
            unreachable=unreachable,
        )


async def _addable_entry(session: AsyncSession, actor: Actor, slug: str) -> CatalogEntry:
    """The catalog entry the firm may still add, or the refusal that says it may not."""
    entry = next((e for e in await addable(session, actor.firm_id) if e.slug == slug), None)
    if entry is None:
        raise unknown_app()
    return entry


async def cancel_draft(hub: Hub, actor: Actor, draft_id: int) -> None:
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        await session.delete(await _draft(session, actor, draft_id))


async def _add(
    session: AsyncSession,
    hub: Hub,
    actor: Actor,
    entry: CatalogEntry,
    definition: Definition,
    sealed_secret: bytes | None,
    selection: Selection,
    *,
    unreachable: bool = False,
) -> Added:
    """``unreachable``: :func:`address_refused`'s answer, asked by the caller outside the
    transaction (Validate does not ask again: step 1 did, and the worker asks at every
    connection)."""
    # Checked again at Validate: the catalog, the firm's SIC codes or the firm's applications may
    # have changed since step 1 (another administrator may have added the same one meanwhile).
    taken = await session.scalar(
        select(FirmApplication.id).where(
            FirmApplication.firm_id == actor.firm_id,
            FirmApplication.catalog_app_id == entry.id,
        )
    )
    if taken is not None:
        raise Conflict(f"{entry.slug} is already on the firm", key="applications.error.already")
    values = clean(
        entry,
        definition,
        await sic_codes(session, actor),
        secret_stored=sealed_secret is not None,
        https_only=https_only(hub),
        unreachable=unreachable,
    )
    app = FirmApplication(
        firm_id=actor.firm_id,
        catalog_app_id=entry.id,
        api_key_id=values["api_key_id"],
        secret_encrypted=sealed_secret if entry.requires_secret else None,
        api_url=values["api_url"],
        specific_fields=values["fields"],
        sic_code=values["sic_code"],
        is_default=values["is_default"],
        partner_email=values["partner_email"],
    )
    session.add(app)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"{entry.slug} is already on the firm", key="applications.error.already"
        ) from error
    dossier_ids: list[int] = []
    if entry.takes_dossiers and not selection.empty:
        dossier_ids = list(
            await session.scalars(
                select(Dossier.id).where(selection_where(actor.firm_id, selection))
            )
        )
    if dossier_ids:
        # One multi-row INSERT (in batches), not one ORM object per dossier: 10,000 stay fast.
        await session.execute(
            insert(Connection),
            [
                {"firm_id": actor.firm_id, "firm_application_id": app.id, "dossier_id": d}
                for d in dossier_ids
            ],
        )
    record(
        session,
        actor.firm_id,
        actor.ref,
        "application.added",
        "firm_application",
        app.id,
        app=entry.slug,
        label=entry.label,
        kind=entry.kind,
        is_default=app.is_default,
        dossiers=len(dossier_ids),
    )
    return Added(id=app.id, label=entry.label, dossiers=len(dossier_ids))


async def _draft(
    session: AsyncSession, actor: Actor, draft_id: int | None, *, lock: bool = False
) -> ApplicationDraft:
    query = select(ApplicationDraft).where(
        ApplicationDraft.id == draft_id,
        ApplicationDraft.firm_id == actor.firm_id,
        ApplicationDraft.staff_user_id == actor.id,
    )
    # The picker's script saves ticks while a button may post the form: without the row lock
    # (PostgreSQL; SQLite has one writer anyway) the later write could undo "apply to all".
    draft = await session.scalar(query.with_for_update() if lock else query)
    if draft is None:
        raise NotFound(f"no draft {draft_id} for {actor.ref}", key="applications.error.no_draft")
    return draft


async def _draft_view(session: AsyncSession, actor: Actor, draft: ApplicationDraft) -> DraftView:
    entry = CatalogEntry.of(await catalog_app(session, draft.catalog_app_id))
    values = dict(draft.values)
    return DraftView(
        id=draft.id,
        entry=entry,
        definition=Definition(
            app=entry.slug,
            api_key_id=values.get("api_key_id", ""),
            api_url=values.get("api_url", ""),
            fields=dict(values.get("fields", {})),
            sic_code=values.get("sic_code", ""),
            is_default=bool(values.get("is_default")),
            partner_email=values.get("partner_email", ""),
        ),
        has_secret=draft.secret_encrypted is not None,
        selection=Selection.from_json(draft.selection),
        sic_codes=await sic_codes(session, actor),
    )

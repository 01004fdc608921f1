"""The firm's applications (seed 003 §1–2, workflow 1): list, the 3-step add wizard, edit, delete.

Only administrators add, edit or delete; every staff member may read the list. Every query is
scoped by the actor's firm, and something of another firm is simply "not found".

The wizard keeps its state server-side in an :class:`~storage.models.ApplicationDraft` that
belongs to one staff member. The dossier selection is a *rule* (:class:`Selection`): "every
dossier matching this search, minus these", plus dossiers ticked by hand, so "apply to all" on
10,000 dossiers never sends or stores 10,000 ids. Drafts are scratch state, not a change of the
firm, so they are not audited; the final Validate is.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.mail import Mail, MailError
from connectors.outcomes import APPLICATION_DELETED
from hub.audit import record
from hub.errors import Conflict, InvalidInput, NotFound
from hub.i18n import Translator, language_of
from hub.identity import Actor
from hub.paging import PER_PAGE, Page, like_pattern
from hub.rights import require_admin, require_staff
from hub.services import Hub
from storage.models import (
    ApplicationDraft,
    AuditEvent,
    CatalogApp,
    Connection,
    Contact,
    ContactAccess,
    Delivery,
    Dossier,
    Firm,
    FirmApplication,
    StaffUser,
    utcnow,
)

log = logging.getLogger("relais.applications")

KINDS = ("platform", "partner", "firm")
# Accesses that a contact holds or is being offered; declined or already revoked ones lose nothing.
LIVE_ACCESS_STATES = ("granted", "offered", "accepted")
DRAFT_LIFETIME = timedelta(days=2)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 200


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class CatalogEntry:
    """What the panel (and the bot) need to know of a catalog application."""

    id: int
    slug: str
    label: str
    kind: str
    description: Mapping[str, str]
    connection: str
    needs_contact: bool
    bulk_dossiers: bool
    requires_api_key_id: bool
    requires_secret: bool
    requires_api_url: bool
    generates_collection_email: bool
    fields: Sequence[Mapping[str, Any]]
    document_type: str | None

    @classmethod
    def of(cls, app: CatalogApp) -> CatalogEntry:
        return cls(
            id=app.id,
            slug=app.slug,
            label=app.label,
            kind=app.kind,
            description=dict(app.description or {}),
            connection=app.connection,
            needs_contact=app.needs_contact,
            bulk_dossiers=app.bulk_dossiers,
            requires_api_key_id=app.requires_api_key_id,
            requires_secret=app.requires_secret,
            requires_api_url=app.requires_api_url,
            generates_collection_email=app.generates_collection_email,
            fields=list(app.fields or []),
            document_type=app.document_type,
        )

    def describe(self, lang: str) -> str:
        return self.description.get(language_of(lang)) or next(iter(self.description.values()), "")

    @property
    def takes_dossiers(self) -> bool:
        """Step 2 is offered: not for apps given to a contact, nor those not selectable in bulk."""
        return self.bulk_dossiers and not self.needs_contact

    @property
    def asks_partner_email(self) -> bool:
        return self.connection == "collection_email"

    @property
    def offers_default(self) -> bool:
        # hub.defaults never attaches an app that needs a contact, so the flag would mean nothing.
        return not self.needs_contact


@dataclass(frozen=True)
class Definition:
    """Step 1 of the wizard, and the edit form. An empty ``secret`` keeps the stored one."""

    app: str  # catalog slug
    api_key_id: str = ""
    secret: str = ""
    api_url: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)
    sic_code: str = ""
    is_default: bool = False
    partner_email: str = ""


@dataclass(frozen=True)
class Selection:
    """Which dossiers step 2 chose, as a rule: ``included`` ∪ (``all`` matching ``query`` − ``excluded``)."""

    all: bool = False
    query: str | None = None
    included: frozenset[int] = frozenset()
    excluded: frozenset[int] = frozenset()

    @classmethod
    def everything(cls, query: str | None = None) -> Selection:
        """ "Apply to all": every dossier of the firm (matching ``query`` when given)."""
        return cls(all=True, query=query)

    @classmethod
    def of_ids(cls, ids: Collection[int]) -> Selection:
        return cls(included=frozenset(ids))

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Selection:
        data = data or {}
        return cls(
            all=bool(data.get("all")),
            query=data.get("query") or None,
            included=frozenset(int(i) for i in data.get("included", [])),
            excluded=frozenset(int(i) for i in data.get("excluded", [])),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "all": self.all,
            "query": self.query,
            "included": sorted(self.included),
            "excluded": sorted(self.excluded),
        }

    @property
    def empty(self) -> bool:
        return not self.all and not self.included


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    entry: CatalogEntry
    api_key_id: str
    has_secret: bool
    is_default: bool
    sic_code: str
    partner_email: str
    dossiers: int
    accesses: int


@dataclass(frozen=True)
class Overview:
    applications: list[ApplicationRow]
    unused: list[CatalogEntry]
    can_manage: bool


@dataclass(frozen=True)
class Choices:
    """What step 1 offers: the catalog entries not yet on the firm, and the firm's SIC codes."""

    entries: list[CatalogEntry]
    sic_codes: list[str]

    def of_kind(self, kind: str) -> list[CatalogEntry]:
        return [e for e in self.entries if e.kind == kind]

    def find(self, slug: str | None) -> CatalogEntry | None:
        return next((e for e in self.entries if e.slug == slug), None)


@dataclass(frozen=True)
class DraftView:
    id: int
    entry: CatalogEntry
    definition: Definition  # secret always ""
    has_secret: bool
    selection: Selection
    sic_codes: list[str]


@dataclass(frozen=True)
class DossierRow:
    id: int
    code: str
    name: str
    status: str
    selected: bool


@dataclass(frozen=True)
class DossierPicker:
    draft: DraftView
    query: str | None
    page: Page[DossierRow]
    selected: int  # across every page and search


@dataclass(frozen=True)
class Summary:
    draft: DraftView
    count: int
    page: Page[DossierRow]


@dataclass(frozen=True)
class Added:
    id: int
    label: str
    dossiers: int


@dataclass(frozen=True)
class EditView:
    id: int
    entry: CatalogEntry
    definition: Definition  # secret always ""
    has_secret: bool
    sic_codes: list[str]


@dataclass(frozen=True)
class DeletionPreview:
    id: int
    entry: CatalogEntry
    connections: int
    accesses: int
    masters: int


@dataclass(frozen=True)
class Deleted:
    label: str
    kind: str
    connections: int
    revoked: int
    mails_sent: int
    mail_failures: list[str]  # the masters' addresses that could not be reached
    # Deliveries still waiting to go to the application: they will never be sent, and end failed
    # with the reason ``application_deleted`` (their history stays).
    cancelled: int = 0


# --------------------------------------------------------------------------- reading


async def overview(hub: Hub, actor: Actor) -> Overview:
    """The Applications tab: the firm's applications, and the catalog entries it could add."""
    require_staff(actor)
    async with hub.sessions() as session:
        apps = list(
            await session.scalars(
                select(FirmApplication)
                .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
                .where(FirmApplication.firm_id == actor.firm_id)
                .order_by(CatalogApp.kind, CatalogApp.label)
            )
        )
        counts = await _counts(session, actor.firm_id, Connection)
        accesses = await _counts(session, actor.firm_id, ContactAccess)
        unused = await _unused(session, actor.firm_id)
    rows = [
        ApplicationRow(
            id=a.id,
            entry=CatalogEntry.of(a.catalog_app),
            api_key_id=a.api_key_id,
            has_secret=a.secret_encrypted is not None,
            is_default=a.is_default,
            sic_code=a.sic_code,
            partner_email=a.partner_email,
            dossiers=counts.get(a.id, 0),
            accesses=accesses.get(a.id, 0),
        )
        for a in apps
    ]
    return Overview(applications=rows, unused=unused, can_manage=actor.is_admin)


async def choices(hub: Hub, actor: Actor) -> Choices:
    require_admin(actor)
    async with hub.sessions() as session:
        return Choices(await _unused(session, actor.firm_id), await _sic_codes(session, actor))


async def _counts(
    session: AsyncSession, firm_id: int, model: type[Connection] | type[ContactAccess]
) -> dict[int, int]:
    rows = await session.execute(
        select(model.firm_application_id, func.count())
        .where(model.firm_id == firm_id)
        .group_by(model.firm_application_id)
    )
    return {app_id: count for app_id, count in rows}


async def _unused(session: AsyncSession, firm_id: int) -> list[CatalogEntry]:
    taken = select(FirmApplication.catalog_app_id).where(FirmApplication.firm_id == firm_id)
    apps = await session.scalars(
        select(CatalogApp)
        .where(CatalogApp.retired.is_(False), CatalogApp.id.not_in(taken))
        .order_by(CatalogApp.kind, CatalogApp.label)
    )
    return [CatalogEntry.of(a) for a in apps]


async def _sic_codes(session: AsyncSession, actor: Actor) -> list[str]:
    codes = await session.scalar(select(Firm.sic_codes).where(Firm.id == actor.firm_id))
    return [str(c) for c in codes or []]


# --------------------------------------------------------------------------- validation


def _clean(
    entry: CatalogEntry,
    definition: Definition,
    sic_codes: Sequence[str],
    *,
    secret_stored: bool,
    https_only: bool,
) -> dict[str, Any]:
    """The values to store, or :class:`InvalidInput` listing every wrong field at once.

    ``problems`` maps a form field to a message key; ``field``/``key`` name the first one, so a
    caller that shows a single message still says something useful.
    """
    problems: dict[str, str] = {}

    def text(name: str, value: str, required: bool, limit: int = MAX_TEXT) -> str:
        value = (value or "").strip()
        if required and not value:
            problems[name] = "applications.error.required"
        elif len(value) > limit:
            problems[name] = "applications.error.too_long"
        return value

    api_key_id = text("api_key_id", definition.api_key_id, entry.requires_api_key_id)
    if not entry.requires_api_key_id:
        api_key_id = ""
    if entry.requires_secret and not secret_stored and not definition.secret.strip():
        problems["secret"] = "applications.error.required"
    elif len(definition.secret) > 500:
        problems["secret"] = "applications.error.too_long"

    api_url = ""
    if entry.requires_api_url:
        api_url = text("api_url", definition.api_url, True, 500)
        if api_url and "api_url" not in problems:
            parts = urlsplit(api_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or " " in api_url:
                problems["api_url"] = "applications.error.url"
            elif https_only and parts.scheme != "https":
                problems["api_url"] = "applications.error.https"

    specific: dict[str, str] = {}
    for spec in entry.fields:
        name = str(spec["name"])
        value = text(f"field.{name}", definition.fields.get(name, ""), bool(spec.get("required")))
        pattern = spec.get("pattern")
        if (
            value
            and pattern
            and f"field.{name}" not in problems
            and not re.fullmatch(pattern, value)
        ):
            problems[f"field.{name}"] = "applications.error.pattern"
        specific[name] = value

    # The SIC code says which of the firm's customer codes generated the API key: asked only
    # when there is a key, and only when the firm has several codes to choose from.
    sic_code = ""
    if not entry.requires_api_key_id:
        pass
    elif len(sic_codes) > 1:
        sic_code = definition.sic_code.strip()
        if sic_code not in sic_codes:
            problems["sic_code"] = "applications.error.sic"
    elif sic_codes:
        sic_code = sic_codes[0]

    partner_email = ""
    if entry.asks_partner_email:
        partner_email = text(
            "partner_email", definition.partner_email, not entry.generates_collection_email, 320
        )
        if partner_email and "partner_email" not in problems and not _EMAIL.match(partner_email):
            problems["partner_email"] = "applications.error.email"

    if problems:
        first = next(iter(problems))
        raise InvalidInput(
            f"invalid {', '.join(problems)}", field=first, key=problems[first], problems=problems
        )
    return {
        "api_key_id": api_key_id,
        "api_url": api_url,
        "fields": specific,
        "sic_code": sic_code,
        "is_default": bool(definition.is_default) and entry.offers_default,
        "partner_email": partner_email,
    }


def _https_only(hub: Hub) -> bool:
    # DESIGN.md workflow 2: non-https API URLs are refused in production, allowed in the demo.
    return not hub.settings.demo


def _unknown_app() -> InvalidInput:
    return InvalidInput(
        "no such application to add",
        field="app",
        key="applications.error.app",
        problems={"app": "applications.error.app"},
    )


# --------------------------------------------------------------------------- the wizard


async def save_draft(
    hub: Hub, actor: Actor, definition: Definition, draft_id: int | None = None
) -> int:
    """Step 1: check the definition and keep it in a (new or existing) draft; returns its id."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        entries = await _unused(session, actor.firm_id)
        entry = next((e for e in entries if e.slug == definition.app), None)
        if entry is None:
            raise _unknown_app()
        draft = await _draft(session, actor, draft_id, lock=True) if draft_id is not None else None
        keep_secret = draft is not None and draft.catalog_app_id == entry.id
        values = _clean(
            entry,
            definition,
            await _sic_codes(session, actor),
            secret_stored=keep_secret and draft is not None and draft.secret_encrypted is not None,
            https_only=_https_only(hub),
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
        listed = and_(Dossier.firm_id == actor.firm_id, _matches(query))
        rows = await _dossier_page(session, listed, view.selection, actor.firm_id, page)
        selected = await _count(session, _selected(actor.firm_id, view.selection))
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
        return await _count(session, _selected(actor.firm_id, rule))


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
        return await _count(session, _selected(actor.firm_id, rule))


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
        chosen = _selected(actor.firm_id, rule)
        rows = await _dossier_page(session, chosen, rule, actor.firm_id, page)
    return Summary(draft=view, count=rows.total, page=rows)


async def validate_draft(hub: Hub, actor: Actor, draft_id: int) -> Added:
    """Validate: the firm application and its dossier connections, in one transaction."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        draft = await _draft(session, actor, draft_id, lock=True)
        entry = CatalogEntry.of(await _catalog_app(session, draft.catalog_app_id))
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
    async with hub.sessions() as session, session.begin():
        entries = await _unused(session, actor.firm_id)
        entry = next((e for e in entries if e.slug == definition.app), None)
        if entry is None:
            raise _unknown_app()
        sealed = hub.vault.seal(definition.secret.strip()) if definition.secret.strip() else None
        return await _add(session, hub, actor, entry, definition, sealed, selection or Selection())


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
) -> Added:
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
    values = _clean(
        entry,
        definition,
        await _sic_codes(session, actor),
        secret_stored=sealed_secret is not None,
        https_only=_https_only(hub),
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
            await session.scalars(select(Dossier.id).where(_selected(actor.firm_id, selection)))
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


async def _catalog_app(session: AsyncSession, catalog_app_id: int) -> CatalogApp:
    app = await session.get(CatalogApp, catalog_app_id)
    if app is None:
        raise NotFound(f"no catalog app {catalog_app_id}")
    return app


async def _draft_view(session: AsyncSession, actor: Actor, draft: ApplicationDraft) -> DraftView:
    entry = CatalogEntry.of(await _catalog_app(session, draft.catalog_app_id))
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
        sic_codes=await _sic_codes(session, actor),
    )


def _matches(query: str | None) -> ColumnElement[bool]:
    """Code or name contains the term, case-insensitively (``hub.paging.search_term`` checked it)."""
    if not query:
        return true()
    pattern = like_pattern(query)
    return or_(
        func.lower(Dossier.code).like(pattern, escape="\\"),
        func.lower(Dossier.name).like(pattern, escape="\\"),
    )


def _selected(firm_id: int, rule: Selection) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if rule.included:
        parts.append(Dossier.id.in_(sorted(rule.included)))
    if rule.all:
        every = _matches(rule.query)
        if rule.excluded:
            every = and_(every, Dossier.id.not_in(sorted(rule.excluded)))
        parts.append(every)
    if not parts:
        return false()
    return and_(Dossier.firm_id == firm_id, or_(*parts))


async def _count(session: AsyncSession, where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(Dossier).where(where)) or 0)


async def _dossier_page(
    session: AsyncSession, where: ColumnElement[bool], rule: Selection, firm_id: int, number: int
) -> Page[DossierRow]:
    total = await _count(session, where)
    pages = max(1, -(-total // PER_PAGE))
    number = min(max(1, number), pages)
    selected = _selected(firm_id, rule)
    rows = await session.execute(
        select(Dossier.id, Dossier.code, Dossier.name, Dossier.status, selected)
        .where(where)
        .order_by(Dossier.code)
        .offset((number - 1) * PER_PAGE)
        .limit(PER_PAGE)
    )
    items = [
        DossierRow(id=i, code=c, name=n, status=s, selected=bool(sel)) for i, c, n, s, sel in rows
    ]
    return Page(items=items, number=number, per_page=PER_PAGE, total=total)


# --------------------------------------------------------------------------- edit


async def application_for_edit(hub: Hub, actor: Actor, app_id: int) -> EditView:
    require_admin(actor)
    async with hub.sessions() as session:
        app = await _firm_app(session, actor, app_id)
        return EditView(
            id=app.id,
            entry=CatalogEntry.of(app.catalog_app),
            definition=_definition_of(app),
            has_secret=app.secret_encrypted is not None,
            sic_codes=await _sic_codes(session, actor),
        )


async def update_application(hub: Hub, actor: Actor, app_id: int, definition: Definition) -> None:
    """Edit step-1 values; an empty secret keeps the stored one. Audited by field name only."""
    require_admin(actor)
    async with hub.sessions() as session, session.begin():
        app = await _firm_app(session, actor, app_id)
        entry = CatalogEntry.of(app.catalog_app)
        values = _clean(
            entry,
            definition,
            await _sic_codes(session, actor),
            secret_stored=app.secret_encrypted is not None,
            https_only=_https_only(hub),
        )
        before = _definition_of(app)
        changed = [
            name
            for name, old, new in (
                ("api_key_id", before.api_key_id, values["api_key_id"]),
                ("api_url", before.api_url, values["api_url"]),
                ("fields", dict(before.fields), values["fields"]),
                ("sic_code", before.sic_code, values["sic_code"]),
                ("is_default", before.is_default, values["is_default"]),
                ("partner_email", before.partner_email, values["partner_email"]),
            )
            if old != new
        ]
        app.api_key_id = values["api_key_id"]
        app.api_url = values["api_url"]
        app.specific_fields = values["fields"]
        app.sic_code = values["sic_code"]
        app.is_default = values["is_default"]
        app.partner_email = values["partner_email"]
        if definition.secret.strip() and entry.requires_secret:
            app.secret_encrypted = hub.vault.seal(definition.secret.strip())
            changed.append("secret")
        record(
            session,
            actor.firm_id,
            actor.ref,
            "application.updated",
            "firm_application",
            app.id,
            app=entry.slug,
            changed=changed,
        )


def _definition_of(app: FirmApplication) -> Definition:
    return Definition(
        app=app.catalog_app.slug,
        api_key_id=app.api_key_id,
        api_url=app.api_url,
        fields={str(k): str(v) for k, v in (app.specific_fields or {}).items()},
        sic_code=app.sic_code,
        is_default=app.is_default,
        partner_email=app.partner_email,
    )


async def _firm_app(session: AsyncSession, actor: Actor, app_id: int) -> FirmApplication:
    app = await session.scalar(
        select(FirmApplication).where(
            FirmApplication.id == app_id, FirmApplication.firm_id == actor.firm_id
        )
    )
    if app is None:
        raise NotFound(f"no application {app_id} in firm {actor.firm_id}")
    return app


# --------------------------------------------------------------------------- delete


@dataclass(frozen=True)
class _Revoked:
    access_id: int
    contact_id: int
    contact: str
    contact_email: str
    dossier_id: int
    dossier_code: str
    dossier_name: str
    master_id: int | None


async def deletion_preview(hub: Hub, actor: Actor, app_id: int) -> DeletionPreview:
    """What deleting would do, for the confirmation page to say beforehand."""
    require_admin(actor)
    async with hub.sessions() as session:
        app = await _firm_app(session, actor, app_id)
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
        app = await _firm_app(session, actor, app_id)
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
        letters = _letters(actor, entry, revoked, masters)
    sent, failures = 0, []
    for to, mail in letters:
        try:
            await hub.mailer.send(mail)
            sent += 1
        except MailError as error:
            log.warning("revocation mail for %s (%s) not sent: %s", entry.slug, to, error)
            failures.append(to)
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
        # the dossier masters' failure notices (hub/notifications.py) leave these out.
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


async def _live_accesses(session: AsyncSession, actor: Actor, app_id: int) -> list[_Revoked]:
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
        _Revoked(
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


def _letters(
    actor: Actor,
    entry: CatalogEntry,
    revoked: Sequence[_Revoked],
    masters: Mapping[int, StaffUser],
) -> list[tuple[str, Mail]]:
    """One mail per dossier master, listing that master's dossiers and contacts affected."""
    by_master: dict[int, list[_Revoked]] = defaultdict(list)
    for r in revoked:
        if r.master_id is not None and r.master_id in masters:
            by_master[r.master_id].append(r)
    letters: list[tuple[str, Mail]] = []
    for master_id, lines in by_master.items():
        master = masters[master_id]
        t = Translator("hub", master.locale)
        body = "\n".join(
            [
                t(
                    "mail.application_deleted.intro",
                    name=master.display_name,
                    actor=actor.display_name,
                    app=entry.label,
                    firm=actor.firm_name,
                ),
                "",
                *(
                    t(
                        "mail.application_deleted.line",
                        code=r.dossier_code,
                        dossier=r.dossier_name,
                        contact=r.contact,
                        email=r.contact_email,
                    )
                    for r in lines
                ),
                "",
                t("mail.application_deleted.outro"),
            ]
        )
        mail = Mail(
            to=(master.email,),
            subject=t("mail.application_deleted.subject", app=entry.label),
            text=body,
        )
        letters.append((master.email, mail))
    return letters

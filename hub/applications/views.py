"""What the applications use-cases hand to the faces: catalog entries, the wizard's definition and
dossier selection, and the rows and summaries the pages show. Plain frozen values, no database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.i18n import language_of
from hub.paging import Page
from storage.models import CatalogApp

KINDS = ("platform", "partner", "firm")


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
    def added_at_once(self) -> bool:
        """Seed 000 §2: an application fed by collection emails is added in one step (its
        dossiers are connected afterwards, with their addresses)."""
        return self.connection == "collection_email"

    @property
    def asks_partner_email(self) -> bool:
        return self.connection == "collection_email"

    @property
    def offers_default(self) -> bool:
        # hub.applications.defaults never attaches an app that needs a contact, so the flag would mean nothing.
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


@dataclass(frozen=True)
class RevokedAccess:
    """A contact's access that deleting an application revokes, with what its letter says."""

    access_id: int
    contact_id: int
    contact: str
    contact_email: str
    dossier_id: int
    dossier_code: str
    dossier_name: str
    master_id: int | None

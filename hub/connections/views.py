"""What the connect wizard hands to the faces: the application being connected, the folders to
choose from, step 2's rows, and what a save or an import did. Plain values, no database.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.applications import CatalogEntry
from hub.paging import Page

METHODS = ("api", "collection_email")
VALUE_COLUMN = {"api": "code_at_application", "collection_email": "collection_email"}
CODE_COLUMN = "dossier_code"
MAX_CODE = 100
MAX_EMAIL = 320


@dataclass(frozen=True)
class ConnectApp:
    """The firm application being connected, as the wizard's pages show it."""

    id: int
    entry: CatalogEntry
    collect_domain: str
    connected: int  # dossiers connected now (active)

    @property
    def method(self) -> str:
        return self.entry.connection

    @property
    def generates(self) -> bool:
        return self.method == "collection_email" and self.entry.generates_collection_email

    @property
    def value_column(self) -> str:
        return VALUE_COLUMN[self.method]

    @property
    def document_type(self) -> str | None:
        return self.entry.document_type


@dataclass(frozen=True)
class FolderChoice:
    id: int
    name: str
    path: str
    depth: int
    suggested: bool = False


@dataclass(frozen=True)
class Start:
    """Step 1: the tree to choose from, the folder suggested by the application's document type."""

    app: ConnectApp
    folders: list[FolderChoice]
    suggested_id: int | None
    can_manage: bool


@dataclass(frozen=True)
class FolderApplied:
    folder_id: int
    path: str
    added: int  # connections that gained the folder


@dataclass(frozen=True)
class ConnectionRow:
    dossier_id: int
    code: str
    name: str
    status: str  # the dossier's: active | inactive | archived
    exists: bool
    active: bool
    authorized: bool
    value: str  # the code at the application, or the collection email
    folders: tuple[str, ...]
    has_folder: bool  # the folder chosen in step 1 is among them

    @property
    def connected(self) -> bool:
        return self.exists and self.active

    @property
    def state(self) -> str:
        """none | disconnected | not_authorized | incomplete | connected"""
        if not self.exists:
            return "none"
        if not self.active:
            return "disconnected"
        if not self.authorized:
            return "not_authorized"
        if not self.value or not self.folders:
            return "incomplete"
        return "connected"


@dataclass(frozen=True)
class Board:
    """Step 2: one page (50) of the firm's dossiers with their connection to the application."""

    app: ConnectApp
    folder: FolderChoice
    query: str | None
    connected_only: bool
    page: Page[ConnectionRow]
    can_manage: bool


@dataclass(frozen=True)
class Entry:
    """One row of step 2 as submitted: the box, the value typed, "generate", "add the folder"."""

    dossier_id: int
    authorized: bool
    value: str = ""
    generate: bool = False
    add_folder: bool = False


@dataclass(frozen=True)
class Outcome:
    """What happened to one dossier, for the success message of that dossier."""

    code: str
    name: str
    action: str  # connected | updated | withdrawn | disconnected | unchanged
    value: str
    generated: bool = False
    folder_added: bool = False


@dataclass(frozen=True)
class Saved:
    folder: str
    outcomes: list[Outcome]

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)


@dataclass(frozen=True)
class Imported:
    folder: str
    outcomes: list[Outcome]
    created: int
    updated: int
    unchanged: int
    generated: int

    @property
    def lines(self) -> int:
        return self.created + self.updated + self.unchanged

"""The firm's applications (seed 003 §1–2, workflow 1): list, the 3-step add wizard, edit, delete.

Only administrators add, edit or delete; every staff member may read the list. Every query is
scoped by the actor's firm, and something of another firm is simply "not found". One concept per
module: ``views`` (the values handed to the faces), ``overview`` (the Applications tab, step 1's
choices), ``validation`` (a definition checked against its catalog entry), ``wizard`` (the add
wizard, its server-side draft and :func:`add_application` in one call), ``dossiers`` (the
wizard's dossier selection as SQL), ``edit``, ``removal`` (deletion with its revocations),
``letters`` (the mails to the dossier masters), ``catalog`` (the shipped catalog, synchronised
into the database) and ``defaults`` (default applications attached to new dossiers). The faces
import from here; what is not in ``__all__`` is the package's own.
"""

from hub.applications.catalog import shipped_catalog, sync_catalog
from hub.applications.defaults import attach_defaults
from hub.applications.edit import application_for_edit, update_application
from hub.applications.overview import choices, overview
from hub.applications.removal import LIVE_ACCESS_STATES, delete_application, deletion_preview
from hub.applications.views import (
    KINDS,
    Added,
    ApplicationRow,
    CatalogEntry,
    Choices,
    Definition,
    Deleted,
    DeletionPreview,
    DossierPicker,
    DossierRow,
    DraftView,
    EditView,
    Overview,
    Selection,
    Summary,
)
from hub.applications.wizard import (
    DRAFT_LIFETIME,
    add_application,
    browse_dossiers,
    cancel_draft,
    clear_selection,
    draft_summary,
    get_draft,
    save_draft,
    select_all,
    tick_dossiers,
    validate_draft,
)

__all__ = [
    "DRAFT_LIFETIME",
    "KINDS",
    "LIVE_ACCESS_STATES",
    "Added",
    "ApplicationRow",
    "CatalogEntry",
    "Choices",
    "Definition",
    "Deleted",
    "DeletionPreview",
    "DossierPicker",
    "DossierRow",
    "DraftView",
    "EditView",
    "Overview",
    "Selection",
    "Summary",
    "add_application",
    "application_for_edit",
    "attach_defaults",
    "browse_dossiers",
    "cancel_draft",
    "choices",
    "clear_selection",
    "delete_application",
    "deletion_preview",
    "draft_summary",
    "get_draft",
    "overview",
    "save_draft",
    "select_all",
    "shipped_catalog",
    "sync_catalog",
    "tick_dossiers",
    "update_application",
    "validate_draft",
]

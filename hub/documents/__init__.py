"""Documents: receiving a file as a new version of a document in a dossier's folder, with its
deliveries (:mod:`.intake`, its name made safe by :mod:`.filenames` and its type read from its
bytes by :mod:`.content_type`), and reading a dossier's folders and documents (:mod:`.browse`).
Who sees which dossier is :mod:`hub.rights`; what happened to each document afterwards is
:mod:`hub.history`. The firm's API tokens are :mod:`hub.tokens`: they say who a REST caller is,
for every route of the API, not only documents."""

from hub.documents.browse import (
    DeliverySummary,
    DocumentEntry,
    DossierChoice,
    FolderEntry,
    FolderView,
    UploadPlaces,
    folder_view,
    list_documents,
    normalise_path,
    require_readable,
    upload_places,
)
from hub.documents.content_type import detect_content_type
from hub.documents.filenames import MAX_NAME_LENGTH, sanitise_filename
from hub.documents.intake import (
    MAX_DOCUMENT_SIZE,
    SOURCES,
    VersionReceipt,
    blob_store,
    receive_document,
)

__all__ = [
    "MAX_DOCUMENT_SIZE",
    "MAX_NAME_LENGTH",
    "SOURCES",
    "DeliverySummary",
    "DocumentEntry",
    "DossierChoice",
    "FolderEntry",
    "FolderView",
    "UploadPlaces",
    "VersionReceipt",
    "blob_store",
    "detect_content_type",
    "folder_view",
    "list_documents",
    "normalise_path",
    "receive_document",
    "require_readable",
    "sanitise_filename",
    "upload_places",
]

"""CSV imports of staff, dossiers and contacts (issue 3), shared by the panel and ``relais import``.

The whole file is checked before anything is written: every bad line is reported with its line
number and reason (:class:`~hub.errors.ImportRejected`), and nothing is applied unless the file is
valid. A valid file is an upsert keyed by email (staff, contacts) or code (dossiers), made in one
transaction with bulk statements, so re-importing the same file changes nothing and 10,000 lines
take a handful of queries rather than 10,000.

Format: UTF-8 (with or without BOM), a header row, ``;`` or ``,`` between cells (detected from the
header, since French Excel writes ``;``). Lines whose first cell starts with ``#`` are comments (the
templates, in ``data/``, document their columns that way). A column left out of the file leaves
that value as it is; a column present with an empty cell means the default (no master,
``active``, ``collaborator``).

Modules: ``csvfile`` (the one CSV reader, which the connection import of :mod:`hub.connections`
uses too), ``rows`` (kinds, columns, cell checks), ``staff``, ``dossiers`` and ``contacts`` (one
upsert each), ``files`` (the use-cases), ``command_line`` (who acts for ``relais import``).
"""

from hub.imports.command_line import command_line_actor, firm_for_command_line
from hub.imports.csvfile import MAX_IMPORT_BYTES, Reason
from hub.imports.files import import_contacts, import_dossiers, import_file, import_staff
from hub.imports.rows import COLUMNS, KINDS, REQUIRED_COLUMNS, ImportReport, template

__all__ = [
    "COLUMNS",
    "KINDS",
    "MAX_IMPORT_BYTES",
    "REQUIRED_COLUMNS",
    "ImportReport",
    "Reason",
    "command_line_actor",
    "firm_for_command_line",
    "import_contacts",
    "import_dossiers",
    "import_file",
    "import_staff",
    "template",
]

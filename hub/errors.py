"""Relais' exception tree, documented once.

Every error a person can cause or meet derives from :class:`RelaisError` and carries a message key
(``key``, translated by each face, with ``params`` to fill it in) and an HTTP ``status``. Each face
turns it into words in one place: the bot into a card saying what could not be done and why
(:func:`bot.errors.error_card`; when the catalog lacks the key, the family's message, the class's
own ``key``); the panel into its error page with the translated message (``admin.middlewares``),
or, where a handler catches it to keep the person on their form, a message beside the field;
the REST API into a problem document (``api.problems``: ``detail`` translated, ``code`` the key).
Anything else that escapes is a bug: logged with its traceback, shown as a generic apology.

::

    RelaisError                 (400) the base; a refusal worth telling the person
    ├── ConfigurationError      (500) settings missing or unsafe; the server refuses to start
    ├── DatabaseNotReady        (503) the database is not at the code's migration head
    ├── Unavailable             (503, ``Retry-After``) a resource is there but cannot serve now
    │   ├── StorageUnavailable  the document folder cannot be written (full, read-only…)
    │   └── DatabaseBusy        SQLite stayed locked by another writer past the busy timeout
    ├── NotRecognised           (403; API 401) unknown tenant or person
    ├── PermissionDenied        (403) the actor may not do this
    ├── NotFound                (404) no such thing in the actor's firm (never says "other firm")
    ├── InvalidInput            (400; API 422) a field or file is wrong; ``field`` names it
    │   ├── ImportRejected      a file with bad lines; ``problems`` lists line and reason
    │   └── ControlCharacter    a value holds NUL or another invisible control character
    ├── Conflict                (409) the change clashes with the current state
    └── ExternalServiceError    (502) Graph, a partner API or SMTP refused or failed
        └── ConsentMissing      (409) the firm's tenant has not granted consent yet
"""

from __future__ import annotations

import errno
import re
from typing import Any

from sqlalchemy.exc import OperationalError


class RelaisError(Exception):
    """Base of every error Relais shows to a person.

    Never raised itself: a subclass says what went wrong. ``message`` is for the log (it may name
    ids and addresses), never shown: people read ``key`` filled with ``params``; a caller may
    give a narrower ``key`` than the class's (``invitations.bad_email`` for an
    :class:`InvalidInput`), the class's own stays the fallback.
    """

    key = "error.generic"
    status = 400

    def __init__(self, message: str = "", *, key: str | None = None, **params: Any) -> None:
        super().__init__(message or self.__class__.__name__)
        if key:
            self.key = key
        self.params = params


class ConfigurationError(RelaisError):
    """Settings are missing, placeholders or unsafe (checked once at start, :mod:`hub.settings`),
    or a stored secret no longer opens with the configured key (:class:`hub.vault.Vault`).

    At start the ``relais`` command prints the message and exits with status 2; met during a
    request, it is logged, the panel and the API answer 500 with the message, the bot a card.
    """

    key = "error.configuration"
    status = 500


class DatabaseNotReady(RelaisError):
    """The database is not at the code's migration head: raised when the app opens its engine
    (``relais.app``); the ``relais`` command prints the message (run ``relais db upgrade``) and
    exits with status 2 instead of serving. No face shows it to a person."""

    key = "error.database_not_ready"
    status = 503


class NotRecognised(RelaisError):
    """The tenant or the person is unknown (:func:`hub.identity.resolve`), the panel's session
    names a person who left, or a contact tries the panel (:func:`hub.team.sign_in`); ``reason``
    in ``params`` says which, for the log only.

    Bot: the refusal card for strangers (never whether the firm exists); panel: the "not
    recognised" page, or signed out for a stale session; API: 401 with ``WWW-Authenticate``.
    """

    key = "error.not_recognised"
    status = 403


class PermissionDenied(RelaisError):
    """The actor is known but may not do this: a role, a right on the dossier
    (:mod:`hub.rights`), or a contact using staff commands. Bot: a card saying what was refused
    and why; panel: the 403 page with the reason; API: a 403 problem."""

    key = "error.permission_denied"
    status = 403


class NotFound(RelaisError):
    """No such dossier, contact, application, document… in the actor's firm; the same answer
    whether or not another firm has it. Bot: a card naming what was not found; panel: the 404
    page; API: a 404 problem."""

    key = "error.not_found"
    status = 404


class InvalidInput(RelaisError):
    """A value or file from the person is wrong; ``field`` names the form field when there is
    one. Raised before anything is written.

    Bot: the form card again with the message under the field and the values kept, or a card
    with the reason; panel: the form again with the message beside the field (handlers catch
    it), else the 400 page; API: a 422 problem (413 for a document over the size limit).
    """

    key = "error.invalid_input"
    status = 400

    def __init__(
        self, message: str = "", *, field: str | None = None, key: str | None = None, **params: Any
    ) -> None:
        super().__init__(message, key=key, **params)
        self.field = field


class ImportRejected(InvalidInput):
    """A CSV import with bad lines: ``problems`` lists (line number, reason) for all of them, and
    nothing was applied. Panel: the import page with the list; the ``relais`` command prints it
    and exits non-zero."""

    key = "error.import_rejected"

    def __init__(self, problems: list[tuple[int, str]], message: str = "") -> None:
        super().__init__(message or f"{len(problems)} line(s) rejected", count=len(problems))
        self.problems = problems


class Conflict(RelaisError):
    """The change clashes with the current state: already linked, the last administrator, an
    offer already answered, a name taken… Bot: a card with the reason; panel: the 409 page or a
    form message; API: a 409 problem."""

    key = "error.conflict"
    status = 409


class ExternalServiceError(RelaisError):
    """Microsoft Graph, a partner application's API or the mail server refused or failed; the
    params carry what the peer said (``detail``). Logged; bot: a card with the reason; panel:
    the message on the page the person was on (invitations) or the 502 page; API: a 502
    problem."""

    key = "error.external_service"
    status = 502


class ConsentMissing(ExternalServiceError):
    """The firm's tenant has not granted Relais its Graph permissions (:mod:`hub.tenant`), so
    no contact can be invited; ``link`` in the params is the panel's Tenant page. Bot: a card
    saying so, with the link; panel: the contact's page with the message and a way to the
    Tenant page; API: a 409 problem."""

    key = "error.consent_missing"
    status = 409


class ControlCharacter(InvalidInput):
    """A value holds NUL or another C0 control character (tab, line feed and carriage return
    excepted): PostgreSQL cannot store NUL in text, and none of them is visible to the person who
    typed or pasted it. Refused at each face's boundary (:func:`refuse_control_characters`),
    naming the field: panel, a 400 page; API, a 400 problem; imports, a bad line."""

    key = "error.control_character"


# C0 controls but tab, line feed and carriage return, which forms and CSV cells legitimately hold;
# PostgreSQL refuses NUL in text and JSON, and nobody types any of them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Lone surrogates too, for text that came as JSON (``\\ud800`` escapes): neither database
# stores one. Bytes that are not UTF-8 (multipart file names) are reported as such where decoded.
_CONTROL_OR_SURROGATE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def has_control_character(value: str, *, lone_surrogates: bool = False) -> bool:
    """The one rule for the characters Relais refuses to read, at every boundary."""
    pattern = _CONTROL_OR_SURROGATE if lone_surrogates else _CONTROL
    return pattern.search(value) is not None


def refuse_control_characters(field: str, value: str) -> None:
    """Raise :class:`ControlCharacter` naming ``field`` when ``value`` holds one."""
    if has_control_character(value):
        shown = _CONTROL.sub("", field)[:80] or "?"
        raise ControlCharacter(
            f"control character in {shown!r}",
            field=shown,
            key="error.control_character",
            label=shown,
        )


class Unavailable(RelaisError):
    """Something Relais needs is there but cannot serve right now; trying again later may work.
    Nothing was changed. Panel: the 503 page; API: a 503 problem; both with ``Retry-After``
    (``retry_after`` seconds); bot: a card; command line: the message."""

    key = "error.unavailable"
    status = 503
    retry_after = 60


class StorageUnavailable(Unavailable):
    """The document folder (``RELAIS_DATA_DIR``) cannot be written: full, read-only, not
    permitted, not a folder. Raised before any row is written, so no document exists without
    its file (:func:`hub.documents.receive_document`); ``/healthz`` reports the same."""

    key = "error.storage_unavailable"
    retry_after = 300


class DatabaseBusy(Unavailable):
    """SQLite stayed locked by another writer past ``RELAIS_DATABASE_BUSY_TIMEOUT``; the change
    was rolled back whole."""

    key = "error.database_busy"
    retry_after = 5


# The OSError numbers that mean "the document folder cannot take files", not a bug of ours.
STORAGE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EDQUOT,
        errno.ENOTDIR,
        errno.EEXIST,
        errno.EIO,
    }
)


def storage_unavailable(error: OSError) -> StorageUnavailable:
    """The hub's error for a failed write in the document folder (the path stays in the log)."""
    reason = error.strerror or type(error).__name__
    where = f" at {error.filename}" if error.filename else ""
    return StorageUnavailable(
        f"the document folder cannot be written ({reason}{where}); nothing was stored",
        reason=reason,
    )


def unavailable(error: BaseException) -> Unavailable | None:
    """The :class:`Unavailable` a low-level failure stands for, or ``None`` when it is a bug.
    Each face's error place asks this before answering 500."""
    if isinstance(error, Unavailable):
        return error
    if isinstance(error, OperationalError) and "database is locked" in str(error.orig):
        return DatabaseBusy(f"database locked: {error.orig}")
    if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
        return storage_unavailable(error)
    return None

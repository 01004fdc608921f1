"""Relais' exception tree, documented once.

Every error a person can cause or meet derives from :class:`RelaisError` and carries a message key
(translated by each face) and the values to fill in. The faces turn these into a card (bot) or a
page or form message (panel), each in one place; anything else that escapes is a bug, logged with
its traceback and shown as a generic apology.

::

    RelaisError
    ├── ConfigurationError      settings missing or unsafe; the server refuses to start
    ├── DatabaseNotReady        the database is not at the code's migration head
    ├── NotRecognised           unknown tenant or person (bot and panel sign-in)
    ├── PermissionDenied        the actor may not do this (403)
    ├── NotFound                no such thing in the actor's firm (404; never says "other firm")
    ├── InvalidInput            a field or file is wrong; ``field`` names it
    │   └── ImportRejected      a file with bad lines; ``problems`` lists line and reason
    ├── Conflict                the change clashes with the current state (409)
    └── ExternalServiceError    Graph, a partner API or SMTP refused or failed
        └── ConsentMissing      the firm's tenant has not granted consent yet
"""

from __future__ import annotations

from typing import Any


class RelaisError(Exception):
    """Base of every error Relais shows to a person."""

    key = "error.generic"
    status = 400

    def __init__(self, message: str = "", *, key: str | None = None, **params: Any) -> None:
        super().__init__(message or self.__class__.__name__)
        if key:
            self.key = key
        self.params = params


class ConfigurationError(RelaisError):
    key = "error.configuration"
    status = 500


class DatabaseNotReady(RelaisError):
    key = "error.database_not_ready"
    status = 503


class NotRecognised(RelaisError):
    key = "error.not_recognised"
    status = 403


class PermissionDenied(RelaisError):
    key = "error.permission_denied"
    status = 403


class NotFound(RelaisError):
    key = "error.not_found"
    status = 404


class InvalidInput(RelaisError):
    key = "error.invalid_input"
    status = 400

    def __init__(
        self, message: str = "", *, field: str | None = None, key: str | None = None, **params: Any
    ) -> None:
        super().__init__(message, key=key, **params)
        self.field = field


class ImportRejected(InvalidInput):
    key = "error.import_rejected"

    def __init__(self, problems: list[tuple[int, str]], message: str = "") -> None:
        super().__init__(message or f"{len(problems)} line(s) rejected", count=len(problems))
        self.problems = problems


class Conflict(RelaisError):
    key = "error.conflict"
    status = 409


class ExternalServiceError(RelaisError):
    key = "error.external_service"
    status = 502


class ConsentMissing(ExternalServiceError):
    key = "error.consent_missing"
    status = 409

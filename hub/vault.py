"""Secrets at rest: application secrets are encrypted with Fernet and never shown again.

Part of the hub's shared kernel: built once from ``RELAIS_ENCRYPTION_KEY`` by
:func:`relais.services.build_services` and handed to use-cases as ``Hub.vault``; the
applications capability seals what an administrator enters, the delivery worker opens it.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from hub.errors import ConfigurationError


class Vault:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        """Only connectors call this, to authenticate to an application; never for display."""
        try:
            return self._fernet.decrypt(sealed).decode("utf-8")
        except InvalidToken as error:
            raise ConfigurationError(
                "A stored secret cannot be decrypted: RELAIS_ENCRYPTION_KEY changed since it was "
                "entered. Restore the previous key, or enter the secret again."
            ) from error

"""Secrets at rest: application secrets are encrypted with Fernet and never shown again.

Part of the hub's shared kernel: built once from ``RELAIS_ENCRYPTION_KEY`` by
:func:`relais.services.build_services` (:meth:`Vault.from_settings`) and handed to use-cases as
``Hub.vault``; the applications capability seals what an administrator enters, the delivery
worker opens it. The newest key seals; every configured key opens, so keys can be rotated
(:mod:`hub.rotation` re-encrypts what older keys sealed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hub.errors import ConfigurationError
from hub.settings import Settings


def _legacy_key(text: str) -> bytes:
    """How versions before HKDF derived the secrets key: one unsalted HMAC of the passphrase.

    Kept to open, never to seal, so that secrets stored before the upgrade stay readable until
    ``relais keys rotate`` seals them again under the current derivation."""
    return base64.urlsafe_b64encode(
        hmac.new(text.encode(), b"relais:secrets", hashlib.sha256).digest()
    )


def _legacy_keys(settings: Settings) -> list[bytes]:
    texts = settings.encryption_keys()
    # Before several keys were allowed the whole value was one passphrase, commas and spaces
    # included: every run of the comma-separated parts is tried as it was written too.
    parts = settings.encryption_key.get_secret_value().split(",")
    runs = [",".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)]
    return [_legacy_key(text) for text in dict.fromkeys([*texts, *runs]) if text]


class Vault:
    def __init__(self, keys: Sequence[bytes], *, legacy: Sequence[bytes] = ()) -> None:
        if not keys:
            raise ConfigurationError("RELAIS_ENCRYPTION_KEY is not set.")
        self._newest = Fernet(keys[0])
        # The first Fernet is the one MultiFernet.rotate encrypts with: the newest key.
        self._any = MultiFernet([Fernet(key) for key in (*keys, *legacy)])

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        return cls(settings.fernet_keys("secrets"), legacy=_legacy_keys(settings))

    def seal(self, secret: str) -> bytes:
        return self._newest.encrypt(secret.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        """Only connectors call this, to authenticate to an application; never for display."""
        try:
            return self._any.decrypt(sealed).decode("utf-8")
        except InvalidToken as error:
            raise _unreadable() from error

    def reseal(self, sealed: bytes) -> bytes | None:
        """The secret sealed again under the newest key; None when the newest key sealed it.

        Raises :class:`ConfigurationError` when no configured key opens it."""
        try:
            self._newest.decrypt(sealed)
            return None
        except InvalidToken:
            pass
        try:
            return self._any.rotate(sealed)
        except InvalidToken as error:
            raise _unreadable() from error


def _unreadable() -> ConfigurationError:
    return ConfigurationError(
        "A stored secret cannot be decrypted: none of the keys in RELAIS_ENCRYPTION_KEY sealed "
        "it. Add back the key it was entered with, or enter the secret again."
    )

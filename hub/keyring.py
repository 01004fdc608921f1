"""The encryption keys: making one, telling a strong one from a guessable one, deriving from it.

``RELAIS_ENCRYPTION_KEY`` holds one key, or several separated by commas while keys are being
rotated: the first (the newest) encrypts, every one decrypts. A key is 32 random bytes or more
written in base64 or base64url (what ``relais keys generate`` prints). The session cookie and the
secrets at rest each get their own Fernet key from it through HKDF with distinct labels, so a
cookie can never be replayed as a stored secret, or the reverse.

Anyone can read an anonymous visitor's cookie and test guesses of the key against it offline, as
fast as they can hash: a passphrase falls in seconds. Outside demo mode :mod:`hub.settings`
therefore refuses keys that are not random enough (:func:`weakness`); demo mode keeps its fixed
passphrase, which is derived the same way from its text.
"""

from __future__ import annotations

import base64
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
# 32 random bytes show about 30 different values; a short pattern repeated shows a handful.
MIN_DISTINCT_BYTES = 16
LABELS = {"secrets": b"relais secrets v1", "session": b"relais session v1"}
HOW_TO_MAKE_ONE = f"a key must be {KEY_BYTES} random bytes or more in base64: make one with `relais keys generate`"

_BASE64 = re.compile(r"[A-Za-z0-9_-]+")


def generate_key() -> str:
    """A new key: 32 random bytes, base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def split_keys(value: str) -> list[str]:
    """The keys of a setting, newest first (blank entries, from a stray comma, dropped)."""
    return [part.strip() for part in value.split(",") if part.strip()]


def decode_key(text: str) -> bytes | None:
    """The key's bytes when it is base64 or base64url (padding optional), else None."""
    compact = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    if not _BASE64.fullmatch(compact) or len(compact) % 4 == 1:
        return None
    return base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))


def weakness(text: str) -> str | None:
    """Why this key could be guessed, or None when it is strong (never quotes the key)."""
    raw = decode_key(text)
    if raw is None:
        return "it is not base64: a passphrase is guessed offline in seconds"
    if len(raw) < KEY_BYTES:
        return f"it decodes to {len(raw)} bytes only"
    if len(set(raw)) < MIN_DISTINCT_BYTES:
        return f"its {len(raw)} bytes repeat a few values: they are not random"
    return None


def derive(text: str, purpose: str) -> bytes:
    """The Fernet key for ``purpose`` (``secrets`` or ``session``) from one configured key.

    A strong key's bytes are the input; anything else (the demo passphrase, or a weak key the
    settings refuse outside demo mode) is derived from its text, so demo mode keeps working.
    """
    material = decode_key(text) if weakness(text) is None else None
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABELS[purpose])
    return base64.urlsafe_b64encode(hkdf.derive(material or text.encode("utf-8")))

"""RSA signing keys for the fake token issuers, published as JWKS."""

from __future__ import annotations

import json
import uuid
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@lru_cache(maxsize=8)
def _rsa_key(slot: int) -> rsa.RSAPrivateKey:
    # Generating a 2048-bit key takes tens of milliseconds: a few are made once per run and
    # shared; every SigningKey still gets its own key id.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


ATTACKER_SLOT = 7  # never used for a published key: signs the "wrong signature" tokens


class SigningKey:
    _next_slot = 0

    def __init__(self, kid: str | None = None, *, slot: int | None = None) -> None:
        if slot is None:
            slot = SigningKey._next_slot % ATTACKER_SLOT
            SigningKey._next_slot += 1
        self.kid = kid or uuid.uuid4().hex
        self.private_key = _rsa_key(slot)

    @classmethod
    def attacker(cls, kid: str) -> SigningKey:
        """A key nobody publishes, carrying a published key's id: its signatures do not verify."""
        return cls(kid, slot=ATTACKER_SLOT)

    def jwk(self, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        data.update({"kid": self.kid, "use": "sig", "kty": "RSA", "alg": "RS256"}, **extra)
        return data

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(
            claims, self.private_key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

"""The Bot Framework channel's token issuer: OpenID metadata + JWKS, and minting channel tokens.

Point ``RELAIS_BOT_OPENID_METADATA_URL`` at :attr:`FakeChannelIssuer.metadata_url`; tokens from
:meth:`FakeChannelIssuer.mint` then authenticate against the real SDK validation exactly as the
Bot Connector's do (RS256, ``iss`` ``https://api.botframework.com``, ``aud`` the bot's app id,
``serviceurl`` claim, key endorsed for ``msteams``). Plain HTTP: the SDK does not insist on TLS.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.keys import SigningKey
from tests.fakes.recorder import Recorder
from tests.fakes.server import Fake, ServerThread

CHANNEL_ISSUER = "https://api.botframework.com"
ENDORSEMENTS = ["msteams", "emulator", "webchat", "directline"]
HOLD_TIMEOUT = 5.0


class FakeChannelIssuer(Fake):
    def __init__(self) -> None:
        self.key = SigningKey()
        self.fetches: Recorder[str] = Recorder()  # paths of metadata/keys requests, in order
        self._release = threading.Event()
        self._release.set()
        self.hold_timed_out = False
        # A unique prefix: the SDK caches metadata per URL for the whole process, and a later
        # issuer on a reused port must not be served an earlier one's keys.
        self.prefix = f"/{uuid.uuid4().hex[:12]}"
        app = web.Application()
        app.router.add_get(f"{self.prefix}/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get(f"{self.prefix}/v1/.well-known/keys", self._keys)
        self.server = ServerThread(app, name="fake-channel-issuer")

    def stop(self) -> None:
        self._release.set()
        super().stop()

    @property
    def metadata_url(self) -> str:
        return f"{self.server.url}{self.prefix}/v1/.well-known/openidconfiguration"

    # -- knobs

    def hold_keys(self) -> None:
        """Hold every keys request until :meth:`release_keys` (at most ``HOLD_TIMEOUT`` seconds,
        after which it is served anyway and :attr:`hold_timed_out` is set)."""
        self.hold_timed_out = False
        self._release.clear()

    def release_keys(self) -> None:
        self._release.set()

    def mint(
        self,
        app_id: str,
        service_url: str,
        *,
        expired: bool = False,
        wrong_signature: bool = False,
        audience: str | None = None,
        service_url_claim: str | None = None,
        issuer: str = CHANNEL_ISSUER,
        kid: str | None = None,
        lifetime: int = 3600,
        extra: dict[str, Any] | None = None,
        omit: tuple[str, ...] = (),
    ) -> str:
        """A channel token as the Bot Connector sends it (without the ``Bearer`` prefix).

        ``expired`` ends it well beyond the SDK's five-minute clock tolerance;
        ``wrong_signature`` signs it with an unpublished key under the published key id;
        ``omit`` leaves claims out (``("exp",)``: a token that never expires).
        """
        now = int(time.time())
        if expired:
            issued, expires = now - 2 * 3600, now - 3600
        else:
            issued, expires = now - 60, now + lifetime
        claims: dict[str, Any] = {
            "serviceurl": service_url if service_url_claim is None else service_url_claim,
            "nbf": issued,
            "iat": issued,
            "exp": expires,
            "iss": issuer,
            "aud": app_id if audience is None else audience,
            **(extra or {}),
        }
        for claim in omit:
            claims.pop(claim, None)
        signer = SigningKey.attacker(self.key.kid) if wrong_signature else self.key
        return signer.sign(claims, kid=kid)

    def authorization(self, app_id: str, service_url: str, **knobs: Any) -> str:
        """``Bearer <token>`` for an ``Authorization`` header."""
        return "Bearer " + self.mint(app_id, service_url, **knobs)

    # -- handlers (server thread)

    async def _metadata(self, request: web.Request) -> web.Response:
        self.fetches.append(request.path)
        base = self.server.url + self.prefix
        return web.json_response(
            {
                "issuer": CHANNEL_ISSUER,
                "authorization_endpoint": f"{base}/v1/.well-known/authorize",
                "jwks_uri": f"{base}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        self.fetches.append(request.path)
        if not self._release.is_set():
            import asyncio

            released = await asyncio.to_thread(self._release.wait, HOLD_TIMEOUT)
            if not released:
                self.hold_timed_out = True
        return web.json_response({"keys": [self.key.jwk(endorsements=ENDORSEMENTS)]})

"""Microsoft Entra sign-in: the OpenID Connect authorization-code flow, through msal.

msal does blocking HTTP (discovery, token redemption), so every call runs in a worker thread.
The client is built on first use, not at import or app construction, so a server without Entra
settings (demo mode) starts and only the Microsoft button explains what is missing.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

import msal

from connectors.graph import msal_trust
from hub.errors import ConfigurationError, NotRecognised
from hub.settings import Settings

log = logging.getLogger(__name__)

# Entra answers by redirecting the browser back with ``?code=…&state=…`` (response_mode=query),
# not by a cross-site form POST: the session cookie is SameSite=Lax, which browsers do not send
# on a POST from another site, and the flow (state, nonce, PKCE verifier) lives in that session.
# The code is single-use, bound to the PKCE verifier, and the callback answers with a redirect.
# msal warns on every call that form_post is "recommended"; that advice does not fit here.
warnings.filterwarnings(
    "ignore", message=r"response_mode='form_post' is recommended", category=UserWarning
)

# Only what acquire_token_by_auth_code_flow needs back; the authorization URL is not kept, which
# keeps the session cookie small.
_FLOW_KEYS = ("state", "redirect_uri", "scope", "nonce", "code_verifier", "claims_challenge")


class SignInFailed(NotRecognised):
    """Entra did not complete the sign-in (cancelled, expired, refused)."""

    key = "error.signin_failed"


class EntraNotConfigured(ConfigurationError):
    """The Microsoft button was used on a server without an Entra app registration."""

    key = "error.entra_not_configured"
    status = 503


class EntraSignIn:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: msal.ConfidentialClientApplication | None = None
        self._lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return bool(
            self.settings.entra_client_id and self.settings.entra_client_secret.get_secret_value()
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.settings.base_url}/admin/auth/callback"

    def _build(self) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            self.settings.entra_client_id,
            client_credential=self.settings.entra_client_secret.get_secret_value(),
            authority=f"{self.settings.entra_authority_host}/organizations",
            # The authority is given explicitly; asking login.microsoftonline.com to validate it
            # would break sovereign clouds and local test authorities alike.
            instance_discovery=False,
            # RELAIS_CA_BUNDLE: the demo's stand-in, a test lab (requests' roots otherwise).
            **msal_trust(self.settings.ca_bundle),
        )

    async def client(self) -> msal.ConfidentialClientApplication:
        if not self.configured:
            raise EntraNotConfigured(
                "RELAIS_ENTRA_CLIENT_ID and RELAIS_ENTRA_CLIENT_SECRET are not set"
            )
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.to_thread(self._build)
            return self._client

    async def start(self) -> tuple[str, dict[str, Any]]:
        """The URL to send the browser to, and the flow state to keep in the session."""
        client = await self.client()
        flow: dict[str, Any] = await asyncio.to_thread(
            client.initiate_auth_code_flow,
            [],
            redirect_uri=self.redirect_uri,
            response_mode="query",
        )
        return flow["auth_uri"], {k: flow[k] for k in _FLOW_KEYS if k in flow}

    async def finish(self, flow: dict[str, Any] | None, query: dict[str, str]) -> tuple[str, str]:
        """Redeem the code Entra sent back; the (tenant id, object id) of the person."""
        if not flow:
            raise SignInFailed("no sign-in in progress (expired or opened in another browser)")
        client = await self.client()
        try:
            result: dict[str, Any] = await asyncio.to_thread(
                client.acquire_token_by_auth_code_flow, flow, query
            )
        except ValueError as exc:  # state mismatch, missing code: a replayed or forged callback
            raise SignInFailed(f"callback rejected by msal: {exc}") from exc
        if "error" in result:
            log.info(
                "Entra sign-in failed: %s %s", result.get("error"), result.get("error_description")
            )
            raise SignInFailed(f"Entra answered {result.get('error')}")
        claims: dict[str, Any] = result.get("id_token_claims") or {}
        return str(claims.get("tid") or ""), str(claims.get("oid") or "")

"""Microsoft Graph: the one client Relais uses to talk to a firm's Entra tenant.

App-only tokens come from msal (client credentials, one ``ConfidentialClientApplication`` per
firm tenant, authority ``{authority_host}/{tenant}``), cached by msal until they expire. msal is
blocking (``requests``), so every msal call runs in a worker thread. Graph calls go through one
``httpx.AsyncClient``, built on first use and closed by :meth:`GraphClient.aclose`.

Passing faults (429, 5xx, a dropped connection) are retried with exponential backoff and full
jitter, honouring ``Retry-After``, a bounded number of times. Whatever Graph or Entra refuses
becomes a :class:`GraphError` (``status``, ``code``, ``message``); a refusal that means "the
tenant has not granted Relais its permissions" is the :class:`ConsentRequired` subtype. ``hub/``
maps these to its own errors; nothing here knows about firms or the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import jwt
import msal
import requests

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# Entra answers that mean "this app is not (or no longer) consented in that tenant".
CONSENT_ERROR_CODES = ("AADSTS65001", "AADSTS700016", "AADSTS650052", "AADSTS7000112")
CONSENT_ERRORS = frozenset({"unauthorized_client", "consent_required", "invalid_grant_consent"})


class GraphError(Exception):
    """Graph or Entra refused or failed. ``status`` is the HTTP status (0: no answer at all)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def passing(self) -> bool:
        """Worth trying again later (throttled, server fault, unreachable)."""
        return self.status == 0 or self.status in RETRIED_STATUSES


class ConsentRequired(GraphError):
    """The tenant has not granted Relais' app the permissions it needs (or withdrew them)."""


@dataclass(frozen=True)
class GraphConfig:
    client_id: str
    client_secret: str
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    scope: str = GRAPH_SCOPE
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    # A Retry-After longer than this is not waited for: the caller is told to try later.
    max_retry_after: float = 30.0
    timeout: float = 30.0
    # A PEM file of the certificate authorities trusted for Entra and Graph instead of the public
    # ones (RELAIS_CA_BUNDLE: a test lab, the demo's stand-in); "" trusts the public roots.
    ca_bundle: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class SentInvitation:
    """What ``POST /invitations`` answered."""

    id: str
    user_id: str
    redeem_url: str
    status: str  # PendingAcceptance | Completed | InProgress | Error


@dataclass(frozen=True)
class GraphUser:
    id: str
    display_name: str
    mail: str
    user_type: str  # Member | Guest
    external_state: str | None  # PendingAcceptance | Accepted | None (members)

    @property
    def accepted(self) -> bool:
        """A member, or a guest who redeemed the invitation: reachable in the firm's tenant."""
        return self.user_type != "Guest" or self.external_state == "Accepted"


Sleep = Callable[[float], Awaitable[None]]


def _verify(ca_bundle: str = "") -> ssl.SSLContext | bool:
    """Trust ``ca_bundle`` when given, else ``SSL_CERT_FILE`` when it is set (a private CA, the
    tests' fake), else httpx's roots."""
    bundle = ca_bundle or os.environ.get("SSL_CERT_FILE")
    return ssl.create_default_context(cafile=bundle) if bundle else True


def msal_trust(ca_bundle: str) -> dict[str, Any]:
    """msal's HTTP client when ``ca_bundle`` is given: a requests session that trusts only that
    file. Not ``trust_env``: requests would let ``REQUESTS_CA_BUNDLE`` override its ``verify``."""
    if not ca_bundle:
        return {}
    session = requests.Session()
    session.verify = ca_bundle
    session.trust_env = False
    return {"http_client": session}


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _odata_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class GraphClient:
    def __init__(
        self,
        config: GraphConfig,
        *,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._jitter = jitter
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._apps: dict[str, msal.ConfidentialClientApplication] = {}
        self._lock = asyncio.Lock()
        # (tenant, manifest id) → the id of the app in that tenant's own catalog.
        self._catalog_ids: dict[tuple[str, str], str] = {}

    @property
    def configured(self) -> bool:
        return self.config.configured

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # ------------------------------------------------------------------ tokens

    def _build_app(self, tenant: str) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            self.config.client_id,
            client_credential=self.config.client_secret,
            authority=f"{self.config.authority_host}/{tenant}",
            # The authority is given explicitly (sovereign clouds, local fakes).
            instance_discovery=False,
            **msal_trust(self.config.ca_bundle),
        )

    async def _app(self, tenant: str) -> msal.ConfidentialClientApplication:
        if not self.configured:
            raise GraphError(
                0,
                "not_configured",
                "RELAIS_ENTRA_CLIENT_ID and RELAIS_ENTRA_CLIENT_SECRET are not set",
            )
        async with self._lock:
            app = self._apps.get(tenant)
            if app is None:
                try:
                    # Building it fetches the tenant's OpenID metadata: off the loop.
                    app = await asyncio.to_thread(self._build_app, tenant)
                except ValueError as error:  # msal: unknown or invalid tenant
                    raise ConsentRequired(400, "invalid_tenant", str(error)) from error
                except Exception as error:  # requests' connection errors and the like
                    raise _unreachable("Microsoft Entra", error) from error
                self._apps[tenant] = app
            return app

    def forget_tokens(self, tenant: str) -> None:
        """Drop the cached app tokens of one tenant (their roles may have changed)."""
        app = self._apps.get(tenant)
        if app is None:
            return
        cache = app.token_cache
        for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(item)

    async def token(self, tenant: str, *, fresh: bool = False) -> str:
        """An app-only Graph token for ``tenant`` (from msal's cache while it is valid)."""
        if fresh:
            # A new msal application: no cached token, and none of msal's memory of earlier
            # refusals (it answers a repeated failed request from its throttling cache for a
            # while, which would hide a consent granted a moment ago).
            async with self._lock:
                self._apps.pop(tenant, None)
        app = await self._app(tenant)
        try:
            result: dict[str, Any] = await asyncio.to_thread(
                app.acquire_token_for_client, scopes=[self.config.scope]
            )
        except Exception as error:
            raise _unreachable("Microsoft Entra", error) from error
        token = result.get("access_token")
        if token:
            return str(token)
        raise _token_error(result)

    async def token_roles(self, tenant: str, *, fresh: bool = False) -> frozenset[str]:
        """The application permissions (``roles``) the tenant granted, read from a token.

        Not verified: it came from Entra over TLS a moment ago; only its claims are read.
        """
        token = await self.token(tenant, fresh=fresh)
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise GraphError(0, "bad_token", f"unreadable token from Entra: {error}") from error
        roles = claims.get("roles") or []
        return frozenset(str(role) for role in roles)

    # ------------------------------------------------------------------ calls

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                verify=_verify(self.config.ca_bundle),
                timeout=httpx.Timeout(self.config.timeout, connect=10.0),
                transport=self._transport,
                headers={"Accept": "application/json"},
            )
        return self._http

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * (2**attempt))
        return self._jitter() * ceiling

    async def request(
        self,
        tenant: str,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One Graph call with retries; the JSON body of the answer (``{}`` when empty)."""
        url = f"{self.config.graph_url}{path}"
        renewed = False
        attempt = 0
        while True:
            token = await self.token(tenant)
            try:
                response = await self._client().request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {token}", **(headers or {})},
                )
            except httpx.TransportError as error:
                failure = _unreachable("Microsoft Graph", error)
                retry_after = None
            else:
                if response.status_code < 400:
                    return _json(response)
                failure = _graph_error(response)
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                if response.status_code == 401 and not renewed:
                    # An expired or stale token: get a new one once, at once.
                    renewed = True
                    self.forget_tokens(tenant)
                    continue
                if isinstance(failure, ConsentRequired):
                    # The roles in the cached token may be out of date either way.
                    self.forget_tokens(tenant)
            attempt += 1
            if not failure.passing or attempt >= self.config.max_attempts:
                raise failure
            if retry_after is not None and retry_after > self.config.max_retry_after:
                raise failure
            delay = self._delay(attempt - 1, retry_after)
            log.info(
                "Graph %s %s: %s; attempt %d of %d in %.2fs",
                method,
                path,
                failure.status or failure.code,
                attempt + 1,
                self.config.max_attempts,
                delay,
            )
            await self._sleep(delay)

    async def invite(
        self,
        tenant: str,
        email: str,
        display_name: str,
        redirect_url: str,
        message: str,
        language: str,
    ) -> SentInvitation:
        """``POST /invitations``: a B2B guest invitation, mailed by Microsoft in ``language``."""
        body: dict[str, Any] = {
            "invitedUserEmailAddress": email,
            "invitedUserDisplayName": display_name,
            "inviteRedirectUrl": redirect_url,
            "sendInvitationMessage": True,
            "invitedUserMessageInfo": {
                "messageLanguage": language,
                "customizedMessageBody": message,
            },
        }
        answer = await self.request(tenant, "POST", "/invitations", json=body)
        user = answer.get("invitedUser") or {}
        return SentInvitation(
            id=str(answer.get("id") or ""),
            user_id=str(user.get("id") or ""),
            redeem_url=str(answer.get("inviteRedeemUrl") or ""),
            status=str(answer.get("status") or ""),
        )

    async def install_app_for_user(self, tenant: str, user_id: str, teams_app_id: str) -> bool:
        """``POST /users/{id}/teamwork/installedApps``: install the Teams app (the bot) in the
        user's personal scope, so that the bot may start a chat with them. True when installed
        now, False when it already was (Graph answers 409 Conflict).

        ``teams_app_id`` is the manifest's id, which is the app's id in the store. An app the
        firm uploaded to its own catalog has another id there: when Graph does not know the
        manifest's id (404, or 400), the catalog is asked for the app whose ``externalId`` it is
        (:meth:`catalog_app_id`), and the install tried again with that id, remembered."""
        known = self._catalog_ids.get((tenant, teams_app_id))
        try:
            return await self._install(tenant, user_id, known or teams_app_id)
        except GraphError as error:
            if known or error.status not in (400, 404):
                raise
            catalog_id = await self.catalog_app_id(tenant, teams_app_id)
            if not catalog_id or catalog_id == teams_app_id:
                raise
        self._catalog_ids[(tenant, teams_app_id)] = catalog_id
        return await self._install(tenant, user_id, catalog_id)

    async def _install(self, tenant: str, user_id: str, app_id: str) -> bool:
        body = {"teamsApp@odata.bind": f"{self.config.graph_url}/appCatalogs/teamsApps/{app_id}"}
        try:
            await self.request(
                tenant, "POST", f"/users/{user_id}/teamwork/installedApps", json=body
            )
        except GraphError as error:
            if error.status == 409:
                return False
            raise
        return True

    async def catalog_app_id(self, tenant: str, external_id: str) -> str | None:
        """``GET /appCatalogs/teamsApps?$filter=externalId eq '…'``: the id, in the tenant's
        catalog, of the app whose manifest id is ``external_id`` (needs AppCatalog.Read.All)."""
        answer = await self.request(
            tenant,
            "GET",
            "/appCatalogs/teamsApps",
            params={"$filter": f"externalId eq {_odata_literal(external_id)}"},
        )
        for item in answer.get("value") or []:
            if isinstance(item, dict) and item.get("id"):
                return str(item["id"])
        return None

    async def get_invitation_user(self, tenant: str, user_id: str) -> GraphUser:
        """The invited user, with ``externalUserState`` (PendingAcceptance / Accepted)."""
        answer = await self.request(
            tenant,
            "GET",
            f"/users/{user_id}",
            params={"$select": "id,displayName,mail,userType,externalUserState"},
        )
        return _user(answer)

    async def find_guest(self, tenant: str, email: str) -> GraphUser | None:
        """The tenant's user with this address (``mail`` or ``otherMails``), if any."""
        literal = _odata_literal(email.strip().lower())
        answer = await self.request(
            tenant,
            "GET",
            "/users",
            params={
                "$filter": f"mail eq {literal} or otherMails/any(m:m eq {literal})",
                "$select": "id,displayName,mail,userType,externalUserState",
            },
        )
        users = [_user(item) for item in answer.get("value") or []]
        # A guest who accepted first, then a pending one, then anyone.
        users.sort(key=lambda u: (not u.accepted, u.user_type != "Guest"))
        return users[0] if users else None


# --------------------------------------------------------------------------- answers


def _unreachable(peer: str, error: BaseException) -> GraphError:
    """No answer at all: the details go to the log, a person reads a short sentence."""
    log.warning("%s unreachable: %s", peer, error)
    return GraphError(0, "unreachable", f"{peer} could not be reached")


def _json(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError as error:
        raise GraphError(response.status_code, "bad_answer", "Graph answered no JSON") from error
    return data if isinstance(data, dict) else {"value": data}


def _user(data: dict[str, Any]) -> GraphUser:
    return GraphUser(
        id=str(data.get("id") or ""),
        display_name=str(data.get("displayName") or ""),
        mail=str(data.get("mail") or ""),
        user_type=str(data.get("userType") or "Member"),
        external_state=data.get("externalUserState"),
    )


def _graph_error(response: httpx.Response) -> GraphError:
    code, message = "", ""
    try:
        error = response.json().get("error") or {}
        if isinstance(error, dict):
            code, message = str(error.get("code") or ""), str(error.get("message") or "")
        else:  # an Entra-style answer: {"error": "...", "error_description": "..."}
            code, message = str(error), str(response.json().get("error_description") or "")
    except (ValueError, AttributeError):
        message = response.text[:300]
    status = response.status_code
    code = code or response.reason_phrase or "error"
    message = message or f"HTTP {status}"
    if status == 403 and code == "Authorization_RequestDenied":
        return ConsentRequired(status, code, message)
    return GraphError(status, code, message)


def _token_error(result: dict[str, Any]) -> GraphError:
    error = str(result.get("error") or "token_error")
    description = str(result.get("error_description") or "")
    codes = " ".join(f"AADSTS{c}" for c in result.get("error_codes") or [])
    text = f"{description} {codes}"
    if error in CONSENT_ERRORS or any(code in text for code in CONSENT_ERROR_CODES):
        return ConsentRequired(400, error, description)
    return GraphError(401 if error == "invalid_client" else 400, error, description)

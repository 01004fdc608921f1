"""Bot Framework authentication: who may post to ``/api/messages``, and how the bot signs its replies.

:func:`build_authentication` turns :class:`~hub.settings.Settings` into the SDK's
``ConfigurationBotFrameworkAuthentication`` and wraps it in :class:`RelaisBotAuthentication`, which
fixes what botbuilder 4.17.1 gets wrong:

* **Every refusal is a 401.** The SDK only raises ``PermissionError`` (which ``CloudAdapter.process``
  turns into 401) for some failures. A missing header reaches the validator as ``""`` and ends in
  ``AttributeError: 'NoneType' object has no attribute 'claims'``; a bad signature, an expired or
  malformed token, an unknown key id escape as PyJWT or ``IndexError`` exceptions, i.e. 500s. Here
  every failure of the inbound check becomes ``PermissionError``, logged once, without the token.
* **The caller is known before the body is read.** :meth:`RelaisBotAuthentication.authenticate_caller`
  checks the ``Authorization`` header alone with the SDK's own validation (signature, issuer,
  audience, expiry), so ``/api/messages`` reads and parses nothing for an anonymous or forged
  request; once the activity is parsed, :meth:`~RelaisBotAuthentication.authenticate_request`
  runs the SDK's full check (the key endorsed for the activity's channel, the ``serviceurl``
  claim). Both refuse what the SDK lets through: a token without ``exp`` (PyJWT checks the
  expiry only when there is one) and an activity without a channel id (the SDK then skips the
  endorsement check).
* **No blocking HTTP on the event loop for inbound checks.** The SDK fetches the OpenID metadata
  and the signing keys with blocking ``requests.get`` from inside ``async`` code
  (``jwt_token_extractor._OpenIdMetadata._refresh``), which freezes every conversation (and the
  panel) while Microsoft's key server answers. Before delegating, the wrapper looks at the SDK's
  own cache for the metadata URL the token will be checked against and, when the SDK would
  refresh it (older than a day, or the token's key id is unknown and the keys are older than an
  hour: the SDK's rules), runs that refresh in a worker thread (``asyncio.to_thread``), one at a
  time per URL (a lock, so a burst of turns does not stampede the key server). The SDK then finds
  a fresh cache and does no I/O.
* **Outbound tokens are cached, and fetched off the loop.** The SDK creates new credentials, hence
  a new msal ``ConfidentialClientApplication`` with an empty token cache, for every turn, and msal
  does blocking HTTP (authority discovery, then the client-credentials token request) when the
  connector client signs its first request, inside the event loop. :class:`_CredentialFactory` keeps
  one credentials object per (app id, scope, authority), so msal's in-memory token cache serves
  every later turn until the token nears expiry (about an hour), and asks for the token in a worker
  thread when the connector is created, so the synchronous call made while sending finds it cached.
  It also honours ``validate_authority`` (the SDK drops it): authority validation is switched off
  when ``RELAIS_BOT_LOGIN_URL`` names an authority explicitly (a sovereign cloud or the test fake),
  since msal would otherwise ask login.microsoftonline.com about it.

With an empty ``RELAIS_BOT_APP_ID`` (demo mode only, see ``Settings.check_for_serving``) the SDK
switches authentication off: requests without an ``Authorization`` header are accepted as
anonymous and replies are not signed. That behaviour is kept.

botbuilder is imported only inside ``bot/``: this module is part of the one folder to change when
moving to the Microsoft 365 Agents SDK.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    EmulatorValidation,
    JwtTokenExtractor,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
    SkillValidation,
    UserTokenClient,
)
from botframework.connector.skills import BotFrameworkClient
from msal import ConfidentialClientApplication
from msrest.authentication import Authentication

from hub.settings import Settings

log = logging.getLogger(__name__)

PUBLIC_LOGIN_URL_PREFIX = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX


@dataclass(frozen=True)
class _SdkConfiguration:
    """The attribute bag ``ConfigurationBotFrameworkAuthentication`` reads (``getattr``)."""

    APP_ID: str
    APP_PASSWORD: str
    APP_TYPE: str
    APP_TENANTID: str
    VALIDATE_AUTHORITY: bool
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str
    TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL: str
    OAUTH_URL: str
    CALLER_ID: str


def sdk_configuration(settings: Settings) -> _SdkConfiguration:
    """The SDK configuration for these settings.

    Every "parameterized" value is always given (public-cloud defaults where the settings leave it
    empty): the SDK switches to its parameterized implementation as soon as one of them is set and
    then needs all of them, and always taking that path means the tests exercise the code that
    runs in production.
    """
    tenant = settings.bot_app_tenant_id if settings.bot_app_type == "SingleTenant" else ""
    login_url = settings.bot_login_url.strip() or (
        PUBLIC_LOGIN_URL_PREFIX + (tenant or AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT)
    )
    return _SdkConfiguration(
        APP_ID=settings.bot_app_id,
        APP_PASSWORD=settings.bot_app_password.get_secret_value(),
        APP_TYPE=settings.bot_app_type,
        APP_TENANTID=settings.bot_app_tenant_id,
        # An explicitly configured authority is trusted as given (see the module docstring).
        VALIDATE_AUTHORITY=not settings.bot_login_url.strip(),
        TO_CHANNEL_FROM_BOT_LOGIN_URL=login_url,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=settings.bot_oauth_scope.strip()
        or AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.bot_openid_metadata_url.strip()
        or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL=(
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        ),
        OAUTH_URL=AuthenticationConstants.OAUTH_URL,
        CALLER_ID=CallerIdConstants.public_azure_channel,
    )


# --------------------------------------------------------------------------- outbound credentials


class _AppCredentials(MicrosoftAppCredentials):
    """Client-credentials token for the Bot Connector, from one long-lived msal application."""

    def __init__(
        self,
        app_id: str,
        password: str,
        *,
        tenant_id: str | None,
        oauth_scope: str,
        login_endpoint: str,
        validate_authority: bool,
    ) -> None:
        super().__init__(app_id, password, channel_auth_tenant=tenant_id, oauth_scope=oauth_scope)
        if not login_endpoint.lower().startswith(PUBLIC_LOGIN_URL_PREFIX):
            # A sovereign cloud or a private authority: the URL is the whole authority.
            self.oauth_endpoint = login_endpoint
        self._validate_authority = validate_authority
        self._msal: ConfidentialClientApplication | None = None
        self._warm_lock = asyncio.Lock()
        self._cached_until = 0.0  # monotonic time until which msal's cache holds a valid token

    def _application(self) -> ConfidentialClientApplication:
        if self._msal is None:
            # Built lazily: msal fetches the authority's metadata (blocking) when constructed.
            self._msal = ConfidentialClientApplication(
                client_id=self.microsoft_app_id,
                client_credential=self.microsoft_app_password,
                authority=self.oauth_endpoint,
                validate_authority=self._validate_authority,
                instance_discovery=self._validate_authority,
            )
        return self._msal

    def get_access_token(self, force_refresh: bool = False) -> str:
        scope = (
            self.oauth_scope
            if self.oauth_scope.endswith("/.default")
            else self.oauth_scope + "/.default"
        )
        # acquire_token_for_client looks in msal's token cache first and only calls the token
        # endpoint when the cached token is missing or about to expire.
        result: dict[str, Any] = self._application().acquire_token_for_client(scopes=[scope])
        if "access_token" in result:
            lifetime = float(result.get("expires_in") or 0)
            self._cached_until = time.monotonic() + lifetime - 300
            return str(result["access_token"])
        raise PermissionError(
            "Could not get a Bot Connector token: "
            f"{result.get('error', 'unknown error')}: {result.get('error_description', '')}"
        )

    async def warm(self) -> None:
        """Get the token in a worker thread so the synchronous call made while sending is cached."""
        if time.monotonic() < self._cached_until:
            return  # msal's cache answers without I/O
        async with self._warm_lock:
            if time.monotonic() < self._cached_until:
                return
            try:
                await asyncio.to_thread(self.get_access_token)
            except Exception as error:  # the send itself will fail and be reported in the turn
                log.warning("could not get a Bot Connector token ahead of the turn: %s", error)


class _CredentialFactory(ServiceClientCredentialsFactory):
    """The SDK's password credential factory, keeping one credentials object per authority."""

    def __init__(self, app_id: str, password: str, tenant_id: str | None) -> None:
        self.app_id = app_id
        self._password = password
        self._tenant_id = tenant_id
        self._credentials: dict[tuple[str, str, str, bool], _AppCredentials] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Authentication:
        if not self.app_id:
            return MicrosoftAppCredentials.empty()
        if app_id != self.app_id:
            raise PermissionError("Invalid app_id")
        key = (app_id, oauth_scope, login_endpoint, validate_authority)
        credentials = self._credentials.get(key)
        if credentials is None:
            credentials = self._credentials[key] = _AppCredentials(
                app_id,
                self._password,
                tenant_id=self._tenant_id,
                oauth_scope=oauth_scope,
                login_endpoint=login_endpoint,
                validate_authority=validate_authority,
            )
        await credentials.warm()
        return credentials


# --------------------------------------------------------------------------- inbound checks


class _KeysUnavailable(PermissionError):
    """The channel's OpenID metadata or signing keys could not be fetched: nothing can be verified,
    so the request is refused (the channel retries later)."""


async def _close(client: ConnectorClient) -> None:
    # msrest's async client has no close(); leaving its context closes its HTTP session.
    await client.__aexit__(None, None, None)


class _SharedConnectors(ConnectorFactory):
    """One connector client per (service URL, audience), shared by every turn.

    The SDK builds a new ``ConnectorClient`` for every turn and never closes it: each one opens
    its own aiohttp session (a new TCP + TLS connection to the channel per reply, and a leaked
    session), and msrest's retry-policy set-up alone costs milliseconds of CPU. Teams uses a
    handful of regional service URLs, so the cache stays small; it is bounded all the same.
    """

    LIMIT = 64

    def __init__(
        self, clients: dict[tuple[str, str], ConnectorClient], inner: ConnectorFactory
    ) -> None:
        self._clients = clients
        self._inner = inner

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (service_url, audience or "")
        client = self._clients.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            if len(self._clients) >= self.LIMIT:
                await _close(self._clients.pop(next(iter(self._clients))))
            self._clients[key] = client
        credentials = getattr(client.config, "credentials", None)
        if isinstance(credentials, _AppCredentials):
            # The token is fetched off the loop whenever msal's copy nears expiry, so the
            # synchronous signing msrest does while sending never waits on the network.
            await credentials.warm()
        return client


def _require_expiry(identity: ClaimsIdentity | None) -> None:
    """PyJWT checks ``exp`` only when the token has one: a token without it would be valid
    forever. The channel's tokens always have one."""
    claims = identity.claims if identity is not None else {}
    if not isinstance(claims.get("exp"), int | float):
        raise PermissionError("the token has no expiry")


class RelaisBotAuthentication(BotFrameworkAuthentication):
    """Delegates to the SDK; every inbound failure is a ``PermissionError``; key refresh off-loop."""

    def __init__(self, inner: BotFrameworkAuthentication, configuration: _SdkConfiguration) -> None:
        self._inner = inner
        # The SDK's rule (``is_authentication_disabled``): no app id, no authentication (demo).
        self._anonymous_allowed = not configuration.APP_ID
        self._channel_metadata_url = configuration.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
        self._emulator_metadata_url = configuration.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        self._refresh_locks: dict[str, asyncio.Lock] = {}
        self._connectors: dict[tuple[str, str], ConnectorClient] = {}
        self._user_token_clients: dict[str, UserTokenClient] = {}

    async def close(self) -> None:
        """Close the shared connector clients (their HTTP sessions); called when the app stops."""
        clients, self._connectors = list(self._connectors.values()), {}
        for client in clients:
            await _close(client)

    # -- the two guarantees

    async def authenticate_caller(self, auth_header: str | None) -> None:
        """Whether the ``Authorization`` header alone is a valid channel token for this bot
        (signature, issuer, audience, expiry), checked before the body is even read, so an
        anonymous caller costs no parsing. The activity's own claims (its channel's endorsement,
        its serviceUrl) are checked by :meth:`authenticate_request` once it is parsed."""
        header = auth_header or None
        try:
            if header is None:
                if self._anonymous_allowed:
                    return
                raise PermissionError("no Authorization header")
            await self._refresh_keys_off_loop(header)
            # The SDK's check of a header without an activity: an empty channel id asks for no
            # endorsement and no serviceUrl is compared (both come with the activity).
            result = await self._inner.authenticate_streaming_request(header, "")
            _require_expiry(result.claims_identity)
        except Exception as error:
            raise self._refusal(error, None) from error

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        # CloudAdapter passes "" when the header is absent; the SDK only recognises None.
        header = auth_header or None
        try:
            if header is not None:
                if not activity.channel_id:
                    # The SDK skips the key's endorsement check for an activity without one.
                    raise PermissionError("the activity names no channel")
                await self._refresh_keys_off_loop(header)
            result = await self._inner.authenticate_request(activity, header)
            if header is not None:
                _require_expiry(result.claims_identity)
        except Exception as error:
            raise self._refusal(error, getattr(activity, "channel_id", None)) from error
        # CloudAdapter takes the turn's connector from this factory, not create_connector_factory.
        if result.connector_factory is not None:
            result.connector_factory = _SharedConnectors(self._connectors, result.connector_factory)
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        try:
            if auth_header:
                await self._refresh_keys_off_loop(auth_header)
            return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)
        except Exception as error:
            raise self._refusal(error, channel_id_header) from error

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        try:
            if auth_header:
                await self._refresh_keys_off_loop(auth_header)
            return await self._inner.authenticate_channel_request(auth_header)
        except Exception as error:
            raise self._refusal(error, None) from error

    @staticmethod
    def _refusal(error: Exception, channel_id: str | None) -> PermissionError:
        # One line, never the token: PyJWT's and the SDK's messages do not contain it (claim
        # values they quote come from a verified token); both are cut short all the same, as is
        # the channel id, which the caller chose. Our own key server trouble is an error for the
        # operator, not the caller's fault, hence ERROR.
        log.log(
            logging.ERROR if isinstance(error, _KeysUnavailable) else logging.WARNING,
            "Bot Framework request refused (401) from channel %r: %s: %s",
            channel_id[:40] if isinstance(channel_id, str) else channel_id,
            type(error).__name__,
            str(error)[:200] or "no detail",
        )
        if isinstance(error, PermissionError):
            return error
        return PermissionError(f"Unauthorized: {type(error).__name__}")

    def _metadata_url_for(self, auth_header: str) -> str:
        # The same choice the SDK makes: skill and emulator tokens are checked against the
        # emulator (Entra) metadata, everything else against the channel's.
        if SkillValidation.is_skill_token(auth_header) or EmulatorValidation.is_token_from_emulator(
            auth_header
        ):
            return self._emulator_metadata_url
        return self._channel_metadata_url

    async def _refresh_keys_off_loop(self, auth_header: str) -> None:
        parts = auth_header.split(" ")
        if len(parts) != 2 or parts[0] != "Bearer" or not parts[1]:
            return  # the SDK refuses it without fetching anything
        try:
            key_id = jwt.get_unverified_header(parts[1]).get("kid")
            url = self._metadata_url_for(auth_header)
        except Exception:
            return  # malformed: the SDK refuses it before looking at keys
        metadata = JwtTokenExtractor.get_open_id_metadata(url)
        if not self._is_stale(metadata, key_id):
            return
        lock = self._refresh_locks.setdefault(url, asyncio.Lock())
        async with lock:
            if not self._is_stale(metadata, key_id):
                return  # another turn refreshed it while this one waited
            log.info("refreshing Bot Framework signing keys from %s", url)
            # _refresh is declared async but only does blocking requests.get calls: run it to
            # completion on a private loop in a worker thread.
            try:
                await asyncio.to_thread(asyncio.run, metadata._refresh())
            except Exception as error:
                raise _KeysUnavailable(
                    f"could not fetch the signing keys from {url}: {type(error).__name__}"
                ) from error

    @staticmethod
    def _is_stale(metadata: Any, key_id: str | None) -> bool:
        """Whether ``_OpenIdMetadata.get`` would refresh (its own rules, jwt_token_extractor.py)."""
        now = datetime.now()
        if metadata.last_updated < now - timedelta(days=1):
            return True
        known = any(key.get("kid") == key_id for key in metadata.keys or [])
        return not known and metadata.last_updated < now - timedelta(hours=1)

    # -- plain delegation

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _SharedConnectors(
            self._connectors, self._inner.create_connector_factory(claims_identity)
        )

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # Made for every turn by CloudAdapter although Relais never asks for user tokens; one per
        # app id spares the msrest client set-up (milliseconds of CPU) on every turn.
        app_id = claims_identity.claims.get(AuthenticationConstants.AUDIENCE_CLAIM) or ""
        client = self._user_token_clients.get(app_id)
        if client is None:
            client = await self._inner.create_user_token_client(claims_identity)
            self._user_token_clients[app_id] = client
        return client

    def create_bot_framework_client(self) -> BotFrameworkClient:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()


def build_authentication(settings: Settings) -> RelaisBotAuthentication:
    """The authentication the CloudAdapter of ``/api/messages`` uses, built from the settings."""
    configuration = sdk_configuration(settings)
    tenant = configuration.APP_TENANTID if configuration.APP_TYPE == "SingleTenant" else None
    credentials = _CredentialFactory(
        configuration.APP_ID, configuration.APP_PASSWORD, tenant or None
    )
    inner = ConfigurationBotFrameworkAuthentication(configuration, credentials_factory=credentials)
    return RelaisBotAuthentication(inner, configuration)

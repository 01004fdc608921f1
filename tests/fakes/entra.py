"""A fake Microsoft Entra ID (login.microsoftonline.com) and Microsoft Graph, over HTTPS.

One server, certificates from a ``trustme`` CA for ``127.0.0.1`` and ``localhost``. Settings use
:attr:`FakeEntra.url` as the authority host (``RELAIS_ENTRA_AUTHORITY_HOST``,
``RELAIS_BOT_LOGIN_URL=<url>/botframework.com``) and :attr:`FakeEntra.graph_url` as
``RELAIS_GRAPH_URL``. Clients must trust the CA: the ``fake_entra`` fixture sets
``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE`` (requests/msal, httpx, ssl default contexts) to a
bundle holding it, and :attr:`FakeEntra.ca_bundle` is the path to give an explicit ``verify=``.

Identity platform routes (``{tenant}``: a tenant id, ``common``, ``organizations`` or a domain):

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (and the v1
  ``/{tenant}/.well-known/openid-configuration``), ``GET /common/discovery/instance``
* ``GET /{tenant}/discovery/v2.0/keys`` (and ``/discovery/keys``): the JWKS
* ``POST /{tenant}/oauth2/v2.0/token``: ``client_credentials`` (app token: ``aud`` from the
  scope, ``roles`` granted by :meth:`consent`, ``tid``, ``appid``/``azp``) and
  ``authorization_code`` (code from the authorize endpoint, PKCE checked; ``id_token`` with
  ``tid``, ``oid``, ``name``, ``preferred_username``, ``email``, ``nonce``)
* ``GET /{tenant}/oauth2/v2.0/authorize``: signs in the user set by :meth:`sign_in_as` at once and
  redirects to ``redirect_uri`` with ``code`` and ``state`` (query, or an auto-posting form for
  ``response_mode=form_post``)
* ``GET /{tenant}/oauth2/v2.0/logout``: forgets the user, redirects to ``post_logout_redirect_uri``
* ``GET /{tenant}/adminconsent`` (and ``/{tenant}/v2.0/adminconsent``): the tenant's administrator
  grants (:meth:`consent`, roles from :meth:`answer_admin_consent`) or refuses, and the browser is
  redirected to ``redirect_uri`` with ``admin_consent=True&tenant=…&state=…`` or
  ``error=…&error_description=…&state=…``; requests recorded in ``admin_consent_requests``

Graph routes (bearer token from this fake, ``aud`` ``https://graph.microsoft.com``; recorded in
:attr:`FakeEntra.graph_calls`):

* ``POST /v1.0/invitations`` (needs the ``User.Invite.All`` role): creates a guest user,
  ``status`` ``PendingAcceptance`` until :meth:`accept_invitation`
* ``GET /v1.0/users/{id or userPrincipalName or mail}`` (needs ``User.Read.All``)
* ``GET /v1.0/users?$filter=mail eq '…' or otherMails/any(m:m eq '…')`` (needs ``User.Read.All``)
* ``POST /v1.0/users/{id}/teamwork/installedApps`` (needs
  ``TeamsAppInstallation.ReadWriteForUser.All``): installs the Teams app bound by
  ``teamsApp@odata.bind`` for a user of the tenant (201), 409 when it is installed already, 404
  for an unknown user; installations are in :attr:`FakeEntra.installed_apps` ``(tid, user, app)``.
  Once :meth:`FakeEntra.publish_org_app` put an app in a tenant's own catalog, that tenant
  answers like an org catalog: only catalog ids install, anything else is 404
* ``GET /v1.0/appCatalogs/teamsApps?$filter=externalId eq '…'`` (needs ``AppCatalog.Read.All``):
  the tenant's catalog apps published from that manifest id

* ``POST /v1.0/users/{id or userPrincipalName or mail}/sendMail`` (needs ``Mail.Send``) with a
  MIME message, base64, ``Content-Type: text/plain``: 202, the decoded message recorded in
  :attr:`FakeEntra.sent_mail`; 404 for a mailbox the tenant does not have, 400 for a body that
  is not base64 MIME

:meth:`app_token_problem` checks an app token for another audience (the fake SMTP's
``outlook.office365.com`` tokens with ``SMTP.SendAsApp``).

:meth:`graph_fail_next` queues an error answer (optionally with ``Retry-After``, optionally only
for one path) for the next matching Graph call.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import html
import itertools
import json
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import trustme
from aiohttp import web

from tests.fakes.keys import SigningKey
from tests.fakes.recorder import Recorder
from tests.fakes.server import Fake, ServerThread

# The tenant Bot Framework tokens come from (``login.microsoftonline.com/botframework.com``).
BOTFRAMEWORK_TENANT = "botframework.com"
BOTFRAMEWORK_TENANT_ID = "d6d49420-f39b-4df7-a1dc-d59a935871db"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
DEFAULT_GRAPH_ROLES = ("User.Invite.All", "User.Read.All")
INSTALL_ROLE = "TeamsAppInstallation.ReadWriteForUser.All"
CATALOG_ROLE = "AppCatalog.Read.All"
TOKEN_LIFETIME = 3599
EXCHANGE_AUDIENCE = "https://outlook.office365.com"
MAIL_SEND_ROLE = "Mail.Send"
SMTP_SEND_ROLE = "SMTP.SendAsApp"


@dataclass
class EntraUser:
    tid: str
    oid: str
    name: str
    email: str


@dataclass(frozen=True)
class TokenIssued:
    grant_type: str
    tenant: str
    client_id: str
    scope: str
    access_token: str
    claims: dict[str, Any]


@dataclass(frozen=True)
class _Failure:
    status: int
    code: str
    message: str
    retry_after: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class SentMail:
    """A message Graph ``sendMail`` accepted: the mailbox in the URL, the token's claims, and
    the MIME message as the recipients will get it."""

    tenant_id: str
    mailbox: str
    claims: dict[str, Any]
    message: Any  # email.message.EmailMessage


@dataclass(frozen=True)
class GraphCall:
    method: str
    path: str
    tenant_id: str | None
    authorization: str | None
    body: dict[str, Any] = field(default_factory=dict)
    status: int = 200


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(code) for code in re.findall(r"^AADSTS(\d+)", description)],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status=status,
    )


def _graph_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def write_ca_bundle(ca: trustme.CA, path: Path) -> Path:
    """A PEM bundle with the public roots (certifi) and the fake CA, for ``REQUESTS_CA_BUNDLE``."""
    import certifi

    path.write_text(Path(certifi.where()).read_text() + "\n" + ca.cert_pem.bytes().decode())
    return path


class FakeEntra(Fake):
    def __init__(self, ca: trustme.CA, ca_bundle: Path) -> None:
        self.ca = ca
        self.ca_bundle = ca_bundle
        self.key = SigningKey()
        self.tokens: Recorder[TokenIssued] = Recorder()
        self.graph_calls: Recorder[GraphCall] = Recorder()
        self.authorize_requests: Recorder[dict[str, str]] = Recorder()
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[str, str | None]] = {}  # id -> (secret, home tenant)
        self._consents: dict[tuple[str, str], tuple[str, ...]] = {}  # (tenant, client) -> roles
        self._user: EntraUser | None = None
        self._codes: dict[str, dict[str, Any]] = {}
        self._users: dict[str, dict[str, dict[str, Any]]] = {}  # tid -> oid -> user
        self._graph_failures: list[_Failure] = []
        self._admin_consent: tuple[str, tuple[str, ...], str, str] = (
            "grant",
            DEFAULT_GRAPH_ROLES,
            "",
            "",
        )
        self.admin_consent_requests: Recorder[dict[str, str]] = Recorder()
        self._serial = itertools.count(1)
        self.sent_mail: Recorder[SentMail] = Recorder()
        self.installed_apps: list[tuple[str, str, str]] = []  # (tenant, user id, teams app id)
        self._org_apps: dict[str, dict[str, str]] = {}  # tid -> catalog id -> manifest id

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        app = web.Application()
        r = app.router
        r.add_get("/common/discovery/instance", self._instance_discovery)
        r.add_get("/v1.0/users", self._graph_list_users)
        r.add_get("/v1.0/users/{user}", self._graph_get_user)
        r.add_post("/v1.0/users/{user}/teamwork/installedApps", self._graph_install_app)
        r.add_get("/v1.0/appCatalogs/teamsApps", self._graph_catalog_apps)
        r.add_post("/v1.0/invitations", self._graph_invite)
        r.add_post("/v1.0/users/{user}/sendMail", self._graph_send_mail)
        r.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid_v2)
        r.add_get("/{tenant}/.well-known/openid-configuration", self._openid_v1)
        r.add_get("/{tenant}/discovery/v2.0/keys", self._jwks)
        r.add_get("/{tenant}/discovery/keys", self._jwks)
        r.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        r.add_post("/{tenant}/oauth2/token", self._token)
        r.add_get("/{tenant}/oauth2/v2.0/authorize", self._authorize)
        r.add_get("/{tenant}/oauth2/v2.0/logout", self._logout)
        r.add_get("/{tenant}/adminconsent", self._admin_consent_endpoint)
        r.add_get("/{tenant}/v2.0/adminconsent", self._admin_consent_endpoint)
        self.server = ServerThread(app, ssl_context=context, name="fake-entra")

    @property
    def url(self) -> str:
        """``https://127.0.0.1:<port>``: the authority host."""
        return self.server.url

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    def authority(self, tenant: str) -> str:
        return f"{self.url}/{tenant}"

    def issuer(self, tid: str) -> str:
        return f"{self.url}/{tid}/v2.0"

    # -- arranging

    def add_client(self, client_id: str, secret: str, *, home_tenant: str | None = None) -> None:
        """Register an app. It gets tokens in ``botframework.com``, its home tenant and the
        tenants that :meth:`consent` to it."""
        with self._lock:
            self._clients[client_id] = (secret, home_tenant)

    def consent(
        self, tenant_id: str, client_id: str, roles: tuple[str, ...] = DEFAULT_GRAPH_ROLES
    ) -> None:
        """The tenant's admin grants the app these application permissions (Graph roles)."""
        with self._lock:
            self._consents[(tenant_id, client_id)] = tuple(roles)

    def revoke_consent(self, tenant_id: str, client_id: str) -> None:
        with self._lock:
            self._consents.pop((tenant_id, client_id), None)

    def sign_in_as(self, tid: str, oid: str, name: str, email: str) -> None:
        """The person the authorize endpoint signs in (no login page: it redirects at once)."""
        with self._lock:
            self._user = EntraUser(tid, oid, name, email)
            self._users.setdefault(tid, {}).setdefault(
                oid, self._user_object(oid, name, email, user_type="Member")
            )

    def sign_out(self) -> None:
        with self._lock:
            self._user = None

    def add_user(
        self, tid: str, oid: str, name: str, email: str, *, user_type: str = "Member"
    ) -> None:
        with self._lock:
            self._users.setdefault(tid, {})[oid] = self._user_object(oid, name, email, user_type)

    def accept_invitation(self, tid: str, email: str) -> None:
        """The guest redeems the invitation: ``externalUserState`` becomes ``Accepted``."""
        with self._lock:
            for user in self._users.get(tid, {}).values():
                if user["mail"].lower() == email.lower():
                    user["externalUserState"] = "Accepted"
                    return
        raise KeyError(f"no invited user {email} in tenant {tid}")

    def publish_org_app(self, tid: str, manifest_id: str, catalog_id: str | None = None) -> str:
        """The tenant uploads the app to its own catalog: it gets a catalog id of its own (returned),
        and the tenant's catalog then knows apps by catalog id only."""
        catalog_id = catalog_id or str(uuid.uuid4())
        with self._lock:
            self._org_apps.setdefault(tid, {})[catalog_id] = manifest_id
        return catalog_id

    def graph_fail_next(
        self,
        status: int,
        code: str,
        message: str = "fake failure",
        *,
        retry_after: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next Graph call (to ``path``, e.g. ``/v1.0/invitations``, when given) answers this
        error, with a ``Retry-After`` header when given (queued)."""
        with self._lock:
            self._graph_failures.append(_Failure(status, code, message, retry_after, path))

    def answer_admin_consent(
        self,
        *,
        roles: tuple[str, ...] = DEFAULT_GRAPH_ROLES,
        error: str = "",
        description: str = "",
    ) -> None:
        """How the next admin-consent requests end: granted with ``roles``, or refused with
        ``error`` and ``description`` (what Entra sends back when the administrator declines)."""
        with self._lock:
            self._admin_consent = ("refuse" if error else "grant", tuple(roles), error, description)

    # -- helpers

    @staticmethod
    def _user_object(oid: str, name: str, email: str, user_type: str) -> dict[str, Any]:
        upn = (
            email
            if user_type == "Member"
            else email.replace("@", "_") + "#EXT#@fake.onmicrosoft.com"
        )
        return {
            "id": oid,
            "displayName": name,
            "mail": email,
            "userPrincipalName": upn,
            "userType": user_type,
            "externalUserState": None if user_type == "Member" else "PendingAcceptance",
        }

    def _tenant_id(self, tenant: str) -> str:
        if tenant == BOTFRAMEWORK_TENANT:
            return BOTFRAMEWORK_TENANT_ID
        if tenant in ("common", "organizations", "consumers"):
            return self._user.tid if self._user else tenant
        return tenant

    def _check_client(self, form: dict[str, str], request: web.Request) -> str | web.Response:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            decoded = base64.b64decode(basic[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        with self._lock:
            registered = self._clients.get(client_id)
        if registered is None:
            return _oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                "directory.",
            )
        if secret != registered[0]:
            return _oauth_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                "the request is the client secret value, not the client secret ID.",
            )
        return client_id

    def _sign(self, claims: dict[str, Any]) -> str:
        return self.key.sign(claims)

    # -- identity platform handlers

    def _openid_document(self, tenant: str, *, v2: bool) -> dict[str, Any]:
        base = f"{self.url}/{tenant}"
        issuer_tid = (
            "{tenantid}" if tenant in ("common", "organizations") else self._tenant_id(tenant)
        )
        return {
            "issuer": f"{self.url}/{issuer_tid}/v2.0" if v2 else f"{self.url}/{issuer_tid}/",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token" if v2 else f"{base}/oauth2/token",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "jwks_uri": f"{base}/discovery/v2.0/keys" if v2 else f"{base}/discovery/keys",
            "response_types_supported": ["code", "id_token", "code id_token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "name", "tid", "oid"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "fake.entra",
        }

    async def _openid_v2(self, request: web.Request) -> web.Response:
        return web.json_response(self._openid_document(request.match_info["tenant"], v2=True))

    async def _openid_v1(self, request: web.Request) -> web.Response:
        return web.json_response(self._openid_document(request.match_info["tenant"], v2=False))

    async def _instance_discovery(self, request: web.Request) -> web.Response:
        host = f"{self.server.host}:{self.server.port}"
        return web.json_response(
            {
                "tenant_discovery_endpoint": (
                    f"{self.url}/common/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [
                    {"preferred_network": host, "preferred_cache": host, "aliases": [host]}
                ],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": [self.key.jwk()]})

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        form_str = {k: str(v) for k, v in form.items()}
        checked = self._check_client(form_str, request)
        if isinstance(checked, web.Response):
            return checked
        grant = form_str.get("grant_type", "")
        if grant == "client_credentials":
            return self._client_credentials(request.match_info["tenant"], checked, form_str)
        if grant == "authorization_code":
            return self._authorization_code(request.match_info["tenant"], checked, form_str)
        return _oauth_error(
            400, "unsupported_grant_type", f"AADSTS70003: The grant type {grant!r} is unsupported."
        )

    def _client_credentials(
        self, tenant: str, client_id: str, form: dict[str, str]
    ) -> web.Response:
        tid = self._tenant_id(tenant)
        with self._lock:
            home = self._clients[client_id][1]
            roles = self._consents.get((tid, client_id))
        if roles is None and tid not in (BOTFRAMEWORK_TENANT_ID, home):
            return _oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                f"directory '{tid}'. This can happen if the application has not been installed "
                "by the administrator of the tenant or consented to by any user in the tenant.",
            )
        scope = form.get("scope", "")
        resource = scope.split()[0] if scope else ""
        if not resource.endswith("/.default"):
            return _oauth_error(
                400,
                "invalid_scope",
                "AADSTS1002012: The provided value for scope is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource "
                "identifier (application ID URI).",
            )
        now = int(time.time())
        app_oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tid}/{client_id}"))
        claims: dict[str, Any] = {
            "aud": resource[: -len("/.default")],
            "iss": self.issuer(tid),
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "tid": tid,
            "appid": client_id,
            "azp": client_id,
            "oid": app_oid,
            "sub": app_oid,
            "idtyp": "app",
            "roles": list(roles or ()),
            "ver": "2.0",
            "jti": uuid.uuid4().hex,
        }
        token = self._sign(claims)
        self.tokens.append(
            TokenIssued("client_credentials", tenant, client_id, scope, token, claims)
        )
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": token,
            }
        )

    def _authorization_code(
        self, tenant: str, client_id: str, form: dict[str, str]
    ) -> web.Response:
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant["client_id"] != client_id:
            return _oauth_error(
                400,
                "invalid_grant",
                "AADSTS70008: The provided authorization code or refresh token has expired due "
                "to inactivity or was already redeemed.",
            )
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return _oauth_error(
                400,
                "invalid_grant",
                "AADSTS50148: The redirect_uri does not match the one of the authorization request.",
            )
        challenge = grant.get("code_challenge")
        if challenge:
            verifier = form.get("code_verifier", "")
            computed = _b64url(hashlib.sha256(verifier.encode()).digest())
            if grant.get("code_challenge_method", "plain") == "plain":
                computed = verifier
            if computed != challenge:
                return _oauth_error(
                    400,
                    "invalid_grant",
                    "AADSTS501481: The Code_Verifier does not match the code_challenge.",
                )
        user: EntraUser = grant["user"]
        now = int(time.time())
        id_claims: dict[str, Any] = {
            "aud": client_id,
            "iss": self.issuer(user.tid),
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "tid": user.tid,
            "oid": user.oid,
            "sub": _b64url(hashlib.sha256(f"{user.oid}{client_id}".encode()).digest()),
            "name": user.name,
            "preferred_username": user.email,
            "email": user.email,
            "ver": "2.0",
        }
        if grant.get("nonce"):
            id_claims["nonce"] = grant["nonce"]
        id_token = self._sign(id_claims)
        access_claims = {
            "aud": GRAPH_AUDIENCE,
            "iss": self.issuer(user.tid),
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "tid": user.tid,
            "oid": user.oid,
            "scp": "User.Read",
            "idtyp": "user",
        }
        access_token = self._sign(access_claims)
        self.tokens.append(
            TokenIssued(
                "authorization_code", tenant, client_id, grant["scope"], access_token, id_claims
            )
        )
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": grant["scope"],
            "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME,
            "access_token": access_token,
            "refresh_token": f"fake-refresh-{uuid.uuid4().hex}",
            "id_token": id_token,
        }
        if form.get("client_info") == "1":
            body["client_info"] = _b64url(json.dumps({"uid": user.oid, "utid": user.tid}).encode())
        return web.json_response(body)

    async def _authorize(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.authorize_requests.append(query)
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        with self._lock:
            known, user = client_id in self._clients, self._user
        if not known or not redirect_uri:
            return web.Response(
                status=400,
                text=f"AADSTS700016: Application with identifier '{client_id}' was not found.",
            )
        if query.get("response_type") != "code":
            return web.Response(status=400, text="AADSTS700054: response_type must be 'code'.")
        if user is None:
            return web.Response(
                status=400,
                text="Nobody is signed in at the fake Entra: call fake_entra.sign_in_as(...) first.",
            )
        code = f"fake-code-{next(self._serial)}-{uuid.uuid4().hex}"
        with self._lock:
            self._codes[code] = {
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "nonce": query.get("nonce"),
                "scope": query.get("scope", ""),
                "code_challenge": query.get("code_challenge"),
                "code_challenge_method": query.get("code_challenge_method", "plain"),
                "user": user,
            }
        answer = {"code": code, "session_state": str(uuid.uuid4())}
        if "state" in query:
            answer["state"] = query["state"]
        if query.get("response_mode") == "form_post":
            inputs = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in answer.items()
            )
            return web.Response(
                content_type="text/html",
                text=(
                    f'<html><body onload="document.forms[0].submit()"><form method="post" '
                    f'action="{html.escape(redirect_uri)}">{inputs}'
                    "<noscript><button>Continue</button></noscript></form></body></html>"
                ),
            )
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(f"{redirect_uri}{separator}{urlencode(answer)}")

    async def _logout(self, request: web.Request) -> web.Response:
        self.sign_out()
        target = request.query.get("post_logout_redirect_uri")
        if target:
            raise web.HTTPFound(target)
        return web.Response(text="You have signed out of the fake Entra.")

    # -- Graph handlers

    def _graph_token(
        self, request: web.Request, role: str | None
    ) -> tuple[dict[str, Any] | None, web.Response | None]:
        """The verified token claims, and the error response if the call may not proceed."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None, _graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            claims: dict[str, Any] = jwt.decode(
                header[7:],
                self.key.private_key.public_key(),
                algorithms=["RS256"],
                audience=GRAPH_AUDIENCE,
            )
        except jwt.PyJWTError as error:
            return None, _graph_error(
                401, "InvalidAuthenticationToken", f"Access token validation failure: {error}"
            )
        if role and role not in claims.get("roles", []) and claims.get("idtyp") == "app":
            return claims, _graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        return claims, None

    def _graph_failure(self, path: str) -> web.Response | None:
        with self._lock:
            failure = next(
                (f for f in self._graph_failures if f.path in (None, path)),
                None,
            )
            if failure is None:
                return None
            self._graph_failures.remove(failure)
        response = _graph_error(failure.status, failure.code, failure.message)
        if failure.retry_after is not None:
            response.headers["Retry-After"] = failure.retry_after
        return response

    async def _graph_invite(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        claims, response = self._graph_token(request, "User.Invite.All")
        tid = claims.get("tid") if claims else None
        response = response or self._graph_failure(request.path)
        if response is None:
            email = str(body.get("invitedUserEmailAddress", ""))
            if "@" not in email:
                response = _graph_error(
                    400, "BadRequest", "The invited user email address is invalid."
                )
            else:
                assert tid is not None
                oid = str(uuid.uuid4())
                name = str(body.get("invitedUserDisplayName") or email)
                with self._lock:
                    existing = next(
                        (
                            u
                            for u in self._users.get(tid, {}).values()
                            if u["mail"].lower() == email.lower()
                        ),
                        None,
                    )
                    if existing is None:
                        existing = self._user_object(oid, name, email, user_type="Guest")
                        self._users.setdefault(tid, {})[oid] = existing
                    user = dict(existing)
                response = web.json_response(
                    {
                        "id": str(uuid.uuid4()),
                        "inviteRedeemUrl": f"{self.url}/redeem?tenant={tid}&user={user['id']}",
                        "invitedUserDisplayName": name,
                        "invitedUserEmailAddress": email,
                        "inviteRedirectUrl": body.get("inviteRedirectUrl"),
                        "sendInvitationMessage": bool(body.get("sendInvitationMessage")),
                        "status": "Completed"
                        if user.get("externalUserState") == "Accepted"
                        else "PendingAcceptance",
                        "invitedUser": {"id": user["id"]},
                    },
                    status=201,
                )
        return self._graph_answered(request, tid, response, body)

    def _graph_answered(
        self,
        request: web.Request,
        tid: str | None,
        response: web.Response,
        body: dict[str, Any] | None = None,
        *,
        with_query: bool = False,
    ) -> web.Response:
        """Records the Graph call in :attr:`graph_calls` and gives back its answer."""
        self.graph_calls.append(
            GraphCall(
                request.method,
                request.path_qs if with_query else request.path,
                tid,
                request.headers.get("Authorization"),
                {} if body is None else body,
                response.status,
            )
        )
        return response

    async def _graph_get_user(self, request: web.Request) -> web.Response:
        claims, response = self._graph_token(request, "User.Read.All")
        tid = claims.get("tid") if claims else None
        response = response or self._graph_failure(request.path)
        if response is None:
            wanted = request.match_info["user"].lower()
            with self._lock:
                found = next(
                    (
                        dict(u)
                        for u in self._users.get(str(tid), {}).values()
                        if wanted
                        in (u["id"].lower(), u["mail"].lower(), u["userPrincipalName"].lower())
                    ),
                    None,
                )
            response = (
                web.json_response(found)
                if found
                else _graph_error(
                    404,
                    "Request_ResourceNotFound",
                    f"Resource '{request.match_info['user']}' does not exist or one of its "
                    "queried reference-property objects are not present.",
                )
            )
        return self._graph_answered(request, tid, response)

    _APP_BIND = re.compile(r"/appCatalogs/teamsApps/([^/]+)$")

    async def _graph_install_app(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        claims, response = self._graph_token(request, INSTALL_ROLE)
        tid = str(claims.get("tid")) if claims else None
        response = response or self._graph_failure(request.path)
        if response is None:
            user_id = request.match_info["user"]
            bound = self._APP_BIND.search(str(body.get("teamsApp@odata.bind", "")))
            with self._lock:
                known = user_id in self._users.get(str(tid), {})
                catalog = self._org_apps.get(str(tid))
                if catalog is not None and bound is not None and bound.group(1) not in catalog:
                    bound, unknown_app = None, True
                else:
                    unknown_app = False
                installed = bound is not None and any(
                    i == (tid, user_id, bound.group(1)) for i in self.installed_apps
                )
                if known and bound is not None and not installed:
                    self.installed_apps.append((str(tid), user_id, bound.group(1)))
            if unknown_app:
                response = _graph_error(
                    404, "NotFound", "The teamsApp bound was not found in the app catalog."
                )
            elif bound is None:
                response = _graph_error(400, "BadRequest", "teamsApp@odata.bind is missing.")
            elif not known:
                response = _graph_error(404, "NotFound", f"User '{user_id}' was not found.")
            elif installed:
                response = _graph_error(409, "Conflict", "The app is already installed.")
            else:
                response = web.Response(status=201)
        return self._graph_answered(request, tid, response, body)

    _EXTERNAL_ID = re.compile(r"^externalId eq '((?:[^']|'')*)'$")

    async def _graph_catalog_apps(self, request: web.Request) -> web.Response:
        claims, response = self._graph_token(request, CATALOG_ROLE)
        tid = str(claims.get("tid")) if claims else None
        response = response or self._graph_failure(request.path)
        if response is None:
            match = self._EXTERNAL_ID.match(request.query.get("$filter", "").strip())
            if match is None:
                response = _graph_error(
                    400, "BadRequest", "The fake Graph only supports $filter=externalId eq '…'."
                )
            else:
                wanted = match.group(1).replace("''", "'")
                with self._lock:
                    apps = dict(self._org_apps.get(str(tid), {}))
                response = web.json_response(
                    {
                        "@odata.context": f"{self.graph_url}/$metadata#appCatalogs/teamsApps",
                        "value": [
                            {
                                "id": catalog_id,
                                "externalId": external,
                                "displayName": "Relais",
                                "distributionMethod": "organization",
                            }
                            for catalog_id, external in apps.items()
                            if external == wanted
                        ],
                    }
                )
        return self._graph_answered(request, tid, response, with_query=True)

    _FILTER = re.compile(
        r"^mail eq '((?:[^']|'')*)'(?: or otherMails/any\(\w+:\w+ eq '((?:[^']|'')*)'\))?$"
    )

    async def _graph_list_users(self, request: web.Request) -> web.Response:
        claims, response = self._graph_token(request, "User.Read.All")
        tid = claims.get("tid") if claims else None
        response = response or self._graph_failure(request.path)
        if response is None:
            match = self._FILTER.match(request.query.get("$filter", "").strip())
            if match is None:
                response = _graph_error(
                    400,
                    "Request_UnsupportedQuery",
                    "The fake Graph only supports $filter=mail eq '…' [or otherMails/any(…)].",
                )
            else:
                wanted = {v.replace("''", "'").lower() for v in match.groups() if v is not None}
                with self._lock:
                    found = [
                        dict(u)
                        for u in self._users.get(str(tid), {}).values()
                        if u["mail"].lower() in wanted
                    ]
                response = web.json_response(
                    {"@odata.context": f"{self.graph_url}/$metadata#users", "value": found}
                )
        return self._graph_answered(request, tid, response, with_query=True)

    def app_token_problem(self, token: str, *, audience: str, role: str) -> str | None:
        """None when ``token`` is an app token of this fake for ``audience`` carrying ``role``;
        else what is wrong with it (for the other fakes that take this fake's tokens)."""
        try:
            claims = jwt.decode(
                token, self.key.private_key.public_key(), algorithms=["RS256"], audience=audience
            )
        except jwt.PyJWTError as error:
            return f"invalid token: {error}"
        if role not in claims.get("roles", []):
            return f"the token lacks the {role} role"
        return None

    async def _graph_send_mail(self, request: web.Request) -> web.Response:
        raw = await request.read()
        claims, response = self._graph_token(request, MAIL_SEND_ROLE)
        tid = str(claims.get("tid")) if claims else None
        response = response or self._graph_failure(request.path)
        mailbox = request.match_info["user"]
        if response is None:
            with self._lock:
                known = any(
                    mailbox.lower() in (u["id"].lower(), u["mail"].lower())
                    or mailbox.lower() == u["userPrincipalName"].lower()
                    for u in self._users.get(str(tid), {}).values()
                )
            try:
                content = base64.b64decode(raw, validate=True)
            except ValueError:
                content = b""
            if not known:
                response = _graph_error(
                    404, "ErrorInvalidUser", f"The requested user '{mailbox}' is invalid."
                )
            elif not request.content_type.startswith("text/plain") or not content:
                response = _graph_error(
                    400,
                    "ErrorMimeContentInvalidBase64String",
                    "Invalid base64 string for MIME content.",
                )
            else:
                message = email.message_from_bytes(content, policy=email.policy.default)
                self.sent_mail.append(SentMail(str(tid), mailbox, dict(claims or {}), message))
                response = web.Response(status=202)
        return self._graph_answered(request, tid, response)

    async def _admin_consent_endpoint(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.admin_consent_requests.append(query)
        client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
        tid = self._tenant_id(request.match_info["tenant"])
        with self._lock:
            known = client_id in self._clients
            outcome, roles, error, description = self._admin_consent
        if not known or not redirect_uri:
            return web.Response(
                status=400,
                text=f"AADSTS700016: Application with identifier '{client_id}' was not found.",
            )
        answer: dict[str, str]
        if outcome == "grant":
            self.consent(tid, client_id, roles)
            answer = {"admin_consent": "True", "tenant": tid}
        else:
            answer = {"error": error, "error_description": description}
        if "state" in query:
            answer["state"] = query["state"]
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(f"{redirect_uri}{separator}{urlencode(answer)}")

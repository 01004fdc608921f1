"""The demo's Microsoft stand-in: Entra ID's token endpoint and the few Microsoft Graph calls
Relais makes, as a real HTTPS server, for ``relais demo``.

``relais demo`` serves it on a free loopback port beside Relais (over HTTPS with a throw-away CA,
:mod:`relais.demo.tls`: msal only takes ``https://`` authorities) and points
``RELAIS_ENTRA_AUTHORITY_HOST``, ``RELAIS_GRAPH_URL``, the Entra app's id and secret and
``RELAIS_CA_BUNDLE`` at it, unless the person set them. Relais then goes through the same code
as in production: msal's client credentials, ``POST /invitations``, the refresh of pending
invitations, the bot's installation for a guest. Nothing in Relais knows it is a stand-in.

What it plays: a tenant (the demo firm's) whose administrator granted Relais its application
permissions (:data:`ROLES`, in the ``roles`` of every app token); the firm's staff as members and
its guest contacts; a guest invited here accepts :data:`ACCEPT_AFTER` seconds later (decided
when the user is next read: no timers); the bot installed for a user once (201, then 409). The
admin-consent page answers "granted" at once. What it learns (invited guests, installations) is
kept in a JSON file, so that a demo run again still knows the guests it invited.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web

log = logging.getLogger(__name__)

NAME = "demo Microsoft stand-in"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
ROLES = (
    "User.Invite.All",
    "User.Read.All",
    "TeamsAppInstallation.ReadWriteForUser.All",
    "AppCatalog.Read.All",
)
# The demo's Entra app registration (the stand-in's only client).
CLIENT_ID = "de300000-0000-4000-8000-0000000e0a11"
CLIENT_SECRET = "demo-graph-secret-not-for-production"
ACCEPT_AFTER = 3.0
TOKEN_LIFETIME = 3599
_FILTER = re.compile(
    r"^mail eq '((?:[^']|'')*)'(?: or otherMails/any\(\w+:\w+ eq '((?:[^']|'')*)'\))?$"
)
_APP_BIND = re.compile(r"/appCatalogs/teamsApps/([^/]+)$")


@dataclass(frozen=True)
class Person:
    """Someone the tenant already has: a member of the firm, or a guest who accepted."""

    object_id: str
    name: str
    email: str
    guest: bool = False


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    codes = [int(code) for code in re.findall(r"^AADSTS(\d+)", description)]
    return web.json_response(
        {"error": error, "error_description": description, "error_codes": codes}, status=status
    )


def _graph_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class GraphStandIn:
    """Entra's identity routes under ``/{tenant}/…`` and Graph's under ``/v1.0/…``."""

    def __init__(
        self,
        tenant_id: str,
        people: Iterable[Person] = (),
        *,
        state_file: Path | None = None,
        accept_after: float = ACCEPT_AFTER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tenant_id = tenant_id
        self.url = ""  # set once served (the issuer and the redeem links name it)
        self.accept_after = accept_after
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._state_file = state_file
        self.users: dict[str, dict[str, Any]] = {}
        self.installed: list[tuple[str, str]] = []  # (user id, Teams app id)
        self._load()
        for person in people:
            self.users.setdefault(person.object_id, self._user(person))

    # ------------------------------------------------------------------ state

    @staticmethod
    def _user(person: Person) -> dict[str, Any]:
        return {
            "id": person.object_id,
            "displayName": person.name,
            "mail": person.email,
            "userType": "Guest" if person.guest else "Member",
            "externalUserState": "Accepted" if person.guest else None,
        }

    def _load(self) -> None:
        if self._state_file is None or not self._state_file.is_file():
            return
        try:
            state = json.loads(self._state_file.read_text())
            self.users = {u["id"]: u for u in state.get("users", [])}
            self.installed = [(a, b) for a, b in state.get("installed", [])]
        except (ValueError, KeyError, TypeError) as error:
            log.warning("%s: %s unreadable (%s); starting afresh", NAME, self._state_file, error)

    def _save(self) -> None:
        if self._state_file is not None:
            state = {"users": list(self.users.values()), "installed": self.installed}
            self._state_file.write_text(json.dumps(state, indent=1))

    def _seen(self, user: dict[str, Any]) -> dict[str, Any]:
        """The user as Graph shows them now: a pending guest accepts once the delay is over."""
        accept_at = user.get("acceptAt")
        if accept_at is not None and self._clock() >= accept_at:
            user["externalUserState"] = "Accepted"
            del user["acceptAt"]
            self._save()
        return {k: v for k, v in user.items() if k != "acceptAt"}

    def _by_mail(self, email: str) -> dict[str, Any] | None:
        wanted = email.strip().lower()
        return next((u for u in self.users.values() if u["mail"].lower() == wanted), None)

    # ------------------------------------------------------------------ the server

    def app(self) -> web.Application:
        app = web.Application()
        r = app.router
        r.add_post("/v1.0/invitations", self._invite)
        r.add_get("/v1.0/users", self._list_users)
        r.add_get("/v1.0/users/{user}", self._get_user)
        r.add_post("/v1.0/users/{user}/teamwork/installedApps", self._install)
        r.add_get("/v1.0/appCatalogs/teamsApps", self._catalog)
        r.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        r.add_get("/{tenant}/.well-known/openid-configuration", self._openid)
        r.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        r.add_get("/{tenant}/adminconsent", self._admin_consent)
        r.add_get("/{tenant}/v2.0/adminconsent", self._admin_consent)
        r.add_get("/{tenant}/oauth2/v2.0/authorize", self._authorize)
        return app

    # -- Entra

    async def _openid(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        base = f"{self.url}/{tenant}"
        return web.json_response(
            {
                "issuer": f"{self.url}/{self.tenant_id}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _oauth_error(
                401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", "AADSTS70003: only client_credentials here."
            )
        if request.match_info["tenant"] != self.tenant_id:
            return _oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{CLIENT_ID}' was not found in the "
                f"directory '{request.match_info['tenant']}'.",
            )
        now = int(self._clock())
        claims = {
            "aud": GRAPH_AUDIENCE,
            "iss": f"{self.url}/{self.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "tid": self.tenant_id,
            "appid": CLIENT_ID,
            "idtyp": "app",
            "roles": list(ROLES),
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        return web.json_response(
            {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "access_token": token}
        )

    async def _admin_consent(self, request: web.Request) -> web.Response:
        """The tenant's administrator grants at once: back to Relais with the answer."""
        redirect_uri = request.query.get("redirect_uri", "")
        if request.query.get("client_id") != CLIENT_ID or not redirect_uri:
            return web.Response(status=400, text="AADSTS700016: unknown application.")
        answer = {"admin_consent": "True", "tenant": self.tenant_id}
        if "state" in request.query:
            answer["state"] = request.query["state"]
        separator = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(f"{redirect_uri}{separator}{urlencode(answer)}")

    async def _authorize(self, request: web.Request) -> web.Response:
        return web.Response(
            status=400,
            text="The demo's Microsoft stand-in signs nobody in: use the demo sign-in on the "
            "panel's login page.",
        )

    # -- Graph

    def _check(self, request: web.Request, role: str) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(
                header.removeprefix("Bearer "),
                self._key,
                algorithms=["HS256"],
                audience=GRAPH_AUDIENCE,
            )
        except jwt.PyJWTError as error:
            return _graph_error(401, "InvalidAuthenticationToken", f"Access token: {error}")
        if role not in claims.get("roles", []):
            return _graph_error(403, "Authorization_RequestDenied", "Insufficient privileges.")
        return None

    async def _invite(self, request: web.Request) -> web.Response:
        refused = self._check(request, "User.Invite.All")
        if refused is not None:
            return refused
        body = await request.json()
        email = str(body.get("invitedUserEmailAddress", "")).strip()
        if "@" not in email:
            return _graph_error(400, "BadRequest", "The invited user email address is invalid.")
        with self._lock:
            user = self._by_mail(email)
            if user is None:
                user = {
                    "id": str(uuid.uuid4()),
                    "displayName": str(body.get("invitedUserDisplayName") or email),
                    "mail": email,
                    "userType": "Guest",
                    "externalUserState": "PendingAcceptance",
                    "acceptAt": self._clock() + self.accept_after,
                }
                self.users[user["id"]] = user
                self._save()
            seen = self._seen(user)
        log.info("%s: invited %s (accepted in %.0f s)", NAME, email, self.accept_after)
        accepted = seen["externalUserState"] == "Accepted"
        return web.json_response(
            {
                "id": str(uuid.uuid4()),
                "inviteRedeemUrl": f"{self.url}/redeem?user={seen['id']}",
                "invitedUserEmailAddress": email,
                "status": "Completed" if accepted else "PendingAcceptance",
                "invitedUser": {"id": seen["id"]},
            },
            status=201,
        )

    async def _get_user(self, request: web.Request) -> web.Response:
        refused = self._check(request, "User.Read.All")
        if refused is not None:
            return refused
        wanted = request.match_info["user"]
        with self._lock:
            user = self.users.get(wanted) or self._by_mail(wanted)
            seen = self._seen(user) if user is not None else None
        if seen is None:
            return _graph_error(
                404, "Request_ResourceNotFound", f"Resource '{wanted}' does not exist."
            )
        return web.json_response(seen)

    async def _list_users(self, request: web.Request) -> web.Response:
        refused = self._check(request, "User.Read.All")
        if refused is not None:
            return refused
        match = _FILTER.match(request.query.get("$filter", "").strip())
        if match is None:
            return _graph_error(
                400, "Request_UnsupportedQuery", "Only $filter=mail eq '…' [or otherMails…]."
            )
        wanted = {v.replace("''", "'").lower() for v in match.groups() if v is not None}
        with self._lock:
            found = [self._seen(u) for u in self.users.values() if u["mail"].lower() in wanted]
        return web.json_response({"value": found})

    async def _install(self, request: web.Request) -> web.Response:
        refused = self._check(request, "TeamsAppInstallation.ReadWriteForUser.All")
        if refused is not None:
            return refused
        body = await request.json()
        bound = _APP_BIND.search(str(body.get("teamsApp@odata.bind", "")))
        user_id = request.match_info["user"]
        if bound is None:
            return _graph_error(400, "BadRequest", "teamsApp@odata.bind is missing.")
        with self._lock:
            if user_id not in self.users:
                return _graph_error(404, "NotFound", f"User '{user_id}' was not found.")
            if (user_id, bound.group(1)) in self.installed:
                return _graph_error(409, "Conflict", "The app is already installed.")
            self.installed.append((user_id, bound.group(1)))
            self._save()
        log.info("%s: Relais installed in Teams for %s", NAME, user_id)
        return web.Response(status=201)

    async def _catalog(self, request: web.Request) -> web.Response:
        refused = self._check(request, "AppCatalog.Read.All")
        return refused or web.json_response({"value": []})

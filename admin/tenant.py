"""Tenant: the firm's Microsoft tenant consent (administrators act, everyone else reads).

``GET /tenant`` shows the consent state; ``POST /tenant/consent`` sends an administrator to
Entra's admin-consent page; Entra comes back to ``GET /tenant/consent/callback``; ``POST
/tenant/check`` re-tests consent. The ``state`` sent to Entra is a nonce kept in this session and
signed with the session's key, bound to the firm and the person: a callback that does not carry it
(another browser, a forged link, a replay) records nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from aiohttp import web
from aiohttp_session import get_session

from admin.flash import flash
from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.portfolio import render_contact
from admin.render import render, url
from hub import contacts, tenant
from hub.errors import ConsentMissing, ExternalServiceError, InvalidInput, PermissionDenied
from hub.identity import Actor
from hub.settings import Settings

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
NONCE = "consent_nonce"
# Registered with Microsoft as the app's reply address: spelled out, it must not move with routes.
CALLBACK_PATH = "/admin/tenant/consent/callback"


def redirect_uri(settings: Settings) -> str:
    return f"{settings.base_url}{CALLBACK_PATH}"


def _signature(settings: Settings, actor: Actor, nonce: str) -> str:
    key = settings.fernet_key("session")
    message = f"relais:admin-consent:{actor.firm_id}:{actor.id}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def _state(settings: Settings, actor: Actor, nonce: str) -> str:
    return f"{nonce}.{_signature(settings, actor, nonce)}"


def _state_ok(settings: Settings, actor: Actor, nonce: object, state: str) -> bool:
    if not isinstance(nonce, str) or not nonce:
        return False
    return hmac.compare_digest(_state(settings, actor, nonce).encode(), state.encode())


@routes.get("/tenant", name="tenant")
async def tenant_page(request: web.Request) -> web.Response:
    view = await tenant.consent_status(request.config_dict[HUB], request[ACTOR])
    return await render(
        request,
        "tenant.html",
        {
            "view": view,
            "required_roles": (*tenant.REQUIRED_ROLES, *tenant.OFFER_ROLES),
            # The page belongs to the Team section: the navigation keeps Team highlighted.
            "current": url(request, "team"),
        },
    )


@routes.post("/tenant/consent", name="tenant_consent")
async def tenant_consent(request: web.Request) -> web.Response:
    settings = request.config_dict[HUB].settings
    actor = request[ACTOR]
    nonce = secrets.token_urlsafe(24)
    entra = await tenant.consent_url(
        request.config_dict[HUB], actor, redirect_uri(settings), _state(settings, actor, nonce)
    )
    session = await get_session(request)
    session[NONCE] = nonce
    raise web.HTTPSeeOther(entra)


@routes.get("/tenant/consent/callback", name="tenant_consent_callback")
async def tenant_consent_callback(request: web.Request) -> web.Response:
    settings = request.config_dict[HUB].settings
    actor = request[ACTOR]
    session = await get_session(request)
    nonce = session.pop(NONCE, None)
    query = request.query
    if not _state_ok(settings, actor, nonce, query.get("state", "")):
        log.warning("admin consent callback without this session's state (%s)", actor.ref)
        raise PermissionDenied("consent callback state mismatch", key="tenant.bad_state")
    view = await tenant.record_consent(
        request.config_dict[HUB],
        actor,
        tenant=query.get("tenant"),
        admin_consent=query.get("admin_consent"),
        error=query.get("error"),
        error_description=query.get("error_description"),
    )
    if view.partial:
        await flash(request, "error", "tenant.flash.partial")
    elif view.granted:
        await flash(request, "ok", "tenant.flash.granted")
    else:
        await flash(request, "error", "tenant.flash.not_granted")
    raise web.HTTPSeeOther(url(request, "tenant"))


@routes.post("/tenant/check", name="tenant_check")
async def tenant_check(request: web.Request) -> web.Response:
    try:
        view = await tenant.check_consent(request.config_dict[HUB], request[ACTOR])
    except ExternalServiceError as error:
        await flash(request, "error", error.key, **error.params)
        raise web.HTTPSeeOther(url(request, "tenant")) from None
    if view.partial:
        await flash(request, "error", "tenant.flash.partial")
    elif view.granted:
        await flash(request, "ok", "tenant.flash.checked_granted")
    else:
        await flash(request, "error", "tenant.flash.not_granted")
    raise web.HTTPSeeOther(url(request, "tenant"))


# --------------------------------------------------------------------------- a contact's invitation


async def _invitation_action(request: web.Request, invite: bool) -> web.Response:
    hub, actor = request.config_dict[HUB], request[ACTOR]
    contact_id = int(request.match_info["contact_id"])  # the route only matches digits
    try:
        if invite:
            view = await contacts.invite_contact(hub, actor, contact_id)
        else:
            view = await contacts.refresh_contact(hub, actor, contact_id)
    except (ExternalServiceError, InvalidInput) as error:
        # Rights and unknown contacts go to the error middleware; these stay on the contact.
        problem = {
            "text": request[TRANSLATOR](error.key, **error.params),
            "consent": isinstance(error, ConsentMissing),
        }
        return await render_contact(request, contact_id, problem=problem, status=error.status)
    key = f"invitations.flash.{view.outcome or 'checked'}"
    await flash(request, "ok", key, contact=view.contact_name, email=view.email)
    raise web.HTTPSeeOther(url(request, "contact", contact_id=contact_id))


@routes.post(r"/contacts/{contact_id:\d+}/invite", name="contact_invite")
async def contact_invite(request: web.Request) -> web.Response:
    return await _invitation_action(request, invite=True)


@routes.post(r"/contacts/{contact_id:\d+}/invitation/check", name="contact_invitation_check")
async def contact_invitation_check(request: web.Request) -> web.Response:
    return await _invitation_action(request, invite=False)


def setup(app: web.Application) -> None:
    """Register this area's routes."""
    app.router.add_routes(routes)

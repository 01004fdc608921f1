"""Tenant consent: the firm's Entra administrator grants Relais' app its Graph permissions.

Without consent no contact can be invited as a guest (DESIGN.md workflow 5). The panel sends an
administrator to the Entra admin-consent URL (:func:`consent_url`); Entra sends the browser back
with ``admin_consent=True&tenant=…`` or ``error=…``, and :func:`record_consent` records the
outcome. The ``tenant`` parameter is never trusted alone: it must be the acting administrator's
firm's tenant, and consent is only recorded as granted once an app token for that tenant carries
the roles Relais needs (:data:`REQUIRED_ROLES`). :func:`check_consent` re-tests it the same way.

Offers need more: installing Relais for a guest who never opened it (:data:`OFFER_ROLES`). A
consent with the invitation roles but not those is still ``granted`` (invitations work), with
the missing ones recorded in ``consent_error`` as ``offer_roles_missing: …``: "partly granted".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.graph import ConsentRequired, GraphError
from hub.audit import record
from hub.errors import ExternalServiceError, InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor
from hub.rights import require_admin, require_staff
from hub.services import Hub
from storage.models import Firm, utcnow

log = logging.getLogger(__name__)

# Inviting needs User.Invite.All; recognising an existing guest by address needs User.Read.All.
REQUIRED_ROLES = ("User.Invite.All", "User.Read.All")
# Installing Relais for a guest (so that an offer reaches them in Teams), and finding the app's
# id in the firm's own catalog, where an uploaded app has an id of its own.
OFFER_ROLES = ("TeamsAppInstallation.ReadWriteForUser.All", "AppCatalog.Read.All")
PARTIAL = "offer_roles_missing"
STATES = ("none", "granted", "failed")
# Entra's error codes and what they mean for a person (message keys of the faces).
_REASONS = (
    ("roles_missing", "tenant.reason.roles_missing"),
    ("access_denied", "tenant.reason.declined"),
    ("consent_required", "tenant.reason.not_granted"),
    ("unauthorized_client", "tenant.reason.not_granted"),
    ("AADSTS65004", "tenant.reason.declined"),
    ("AADSTS65001", "tenant.reason.not_granted"),
    ("AADSTS700016", "tenant.reason.not_granted"),
    ("AADSTS90094", "tenant.reason.not_admin"),
    ("AADSTS90008", "tenant.reason.not_admin"),
    ("invalid_client", "tenant.reason.app_misconfigured"),
    ("not_configured", "tenant.reason.app_misconfigured"),
)


def reason_key(error: str) -> str:
    """The plain-words message key for a recorded consent error."""
    for needle, key in _REASONS:
        if needle in error:
            return key
    return "tenant.reason.other"


@dataclass(frozen=True)
class ConsentView:
    tenant_id: str
    state: str  # none | granted | failed
    checked_at: datetime | None
    error: str  # as Entra (or the check) said it, for the details
    may_manage: bool  # administrators grant and check; others read
    configured: bool  # the server has an Entra app registration

    @property
    def granted(self) -> bool:
        return self.state == "granted"

    @property
    def reason(self) -> str:
        """Why consent is not there, as a message key ("" when granted or never asked)."""
        return reason_key(self.error) if self.state == "failed" else ""

    @property
    def missing_offer_roles(self) -> tuple[str, ...]:
        """Granted for invitations, but without these permissions offers need."""
        return missing_offer_roles(self.state, self.error)

    @property
    def partial(self) -> bool:
        return bool(self.missing_offer_roles)


def missing_offer_roles(state: str, error: str) -> tuple[str, ...]:
    if state != "granted" or not error.startswith(f"{PARTIAL}:"):
        return ()
    return tuple(r.strip() for r in error.split(":", 1)[1].split(",") if r.strip())


def _view(hub: Hub, actor: Actor, firm: Firm) -> ConsentView:
    return ConsentView(
        tenant_id=firm.tenant_id,
        state=firm.consent_state if firm.consent_state in STATES else "none",
        checked_at=firm.consent_checked_at,
        error=firm.consent_error,
        may_manage=actor.is_admin,
        configured=hub.graph.configured,
    )


async def _firm(session: AsyncSession, actor: Actor, *, lock: bool = False) -> Firm:
    query = select(Firm).where(Firm.id == actor.firm_id)
    if lock:
        query = query.with_for_update()
    firm = await session.scalar(query)
    if firm is None:
        raise NotFound(f"no firm {actor.firm_id}")
    return firm


async def consent_status(hub: Hub, actor: Actor) -> ConsentView:
    """The firm's consent state, for every member of the staff to read."""
    require_staff(actor)
    async with hub.sessions() as session:
        return _view(hub, actor, await _firm(session, actor))


async def offer_permissions_missing(hub: Hub, actor: Actor) -> tuple[str, ...]:
    """The permissions offers lack on the firm's tenant, as last checked (none when consent is
    granted in full, or not granted at all: then nothing works, and the panel says that)."""
    async with hub.sessions() as session:
        firm = await _firm(session, actor)
        return missing_offer_roles(firm.consent_state, firm.consent_error)


async def consent_url(hub: Hub, actor: Actor, redirect_uri: str, state: str) -> str:
    """Where to send the administrator: Entra's admin-consent page for the firm's own tenant."""
    require_admin(actor)
    if not hub.graph.configured:
        raise ExternalServiceError(
            "no Entra app registration on this server", key="tenant.not_configured"
        )
    async with hub.sessions() as session:
        firm = await _firm(session, actor)
    query = urlencode(
        {"client_id": hub.settings.entra_client_id, "redirect_uri": redirect_uri, "state": state}
    )
    return f"{hub.settings.entra_authority_host}/{firm.tenant_id}/adminconsent?{query}"


async def _test_consent(hub: Hub, tenant_id: str) -> tuple[str, str]:
    """(state, error) from a fresh app token for the tenant: granted only with every role."""
    try:
        roles = await hub.graph.token_roles(tenant_id, fresh=True)
    except ConsentRequired as error:
        return "failed", f"{error.code}: {error.message}"
    except GraphError as error:
        if error.code in ("invalid_client", "not_configured"):
            return "failed", f"{error.code}: {error.message}"
        log.warning("consent check for tenant %s could not reach Entra: %s", tenant_id, error)
        raise ExternalServiceError(
            f"Entra did not answer: {error}", key="tenant.unreachable"
        ) from error
    missing = [role for role in REQUIRED_ROLES if role not in roles]
    if missing:
        return "failed", f"roles_missing: {', '.join(missing)}"
    partly = [role for role in OFFER_ROLES if role not in roles]
    if partly:
        return "granted", f"{PARTIAL}: {', '.join(partly)}"
    return "granted", ""


async def _save(
    hub: Hub, actor: Actor, state: str, error: str, action: str, **details: str
) -> ConsentView:
    async with hub.sessions() as session, session.begin():
        firm = await _firm(session, actor, lock=True)
        before = firm.consent_state
        firm.consent_state = state
        firm.consent_error = error
        firm.consent_checked_at = utcnow()
        record(
            session,
            actor.firm_id,
            actor.ref,
            action,
            "firm",
            firm.id,
            before=before,
            after=state,
            **({"error": error} if error else {}),
            **details,
        )
        return _view(hub, actor, firm)


async def record_consent(
    hub: Hub,
    actor: Actor,
    *,
    tenant: str | None,
    admin_consent: str | None,
    error: str | None = None,
    error_description: str | None = None,
) -> ConsentView:
    """Record what Entra's admin-consent redirect said (the face has checked its ``state``).

    An error from Entra is recorded as it came. A success is believed only for the acting
    administrator's own tenant, and only once a token for it carries :data:`REQUIRED_ROLES`.
    """
    require_admin(actor)
    async with hub.sessions() as session:
        firm = await _firm(session, actor)
    if error:
        text = f"{error}: {error_description or ''}".strip().rstrip(":")
        return await _save(hub, actor, "failed", text[:2000], "tenant.consent_refused")
    if not tenant or tenant.strip().lower() != firm.tenant_id.lower():
        log.warning(
            "admin consent callback for tenant %r refused: %s's firm is tenant %s",
            tenant,
            actor.ref,
            firm.tenant_id,
        )
        raise PermissionDenied(
            f"consent answer for tenant {tenant!r}, not the firm's", key="tenant.wrong_tenant"
        )
    if (admin_consent or "").lower() != "true":
        raise InvalidInput("admin_consent is not True", key="tenant.bad_answer")
    state, problem = await _test_consent(hub, firm.tenant_id)
    return await _save(hub, actor, state, problem, "tenant.consent_recorded")


async def check_consent(hub: Hub, actor: Actor) -> ConsentView:
    """ "Check again": test consent with a fresh token, and record what it shows."""
    require_admin(actor)
    async with hub.sessions() as session:
        firm = await _firm(session, actor)
    state, problem = await _test_consent(hub, firm.tenant_id)
    return await _save(hub, actor, state, problem, "tenant.consent_checked")


async def consent_lost(session: AsyncSession, firm: Firm, actor_ref: str, why: str) -> None:
    """Graph refused a call for lack of consent although it was recorded as granted: record it
    (in the caller's transaction), so the panel says so and the next attempt fails early."""
    if firm.consent_state == "failed" and firm.consent_error == why:
        return
    before = firm.consent_state
    firm.consent_state = "failed"
    firm.consent_error = why[:2000]
    firm.consent_checked_at = utcnow()
    record(
        session,
        firm.id,
        actor_ref,
        "tenant.consent_lost",
        "firm",
        firm.id,
        before=before,
        error=why,
    )

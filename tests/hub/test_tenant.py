"""Tenant consent, recorded only once Entra proves it (a token carrying the roles), on both
databases."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from hub.errors import ExternalServiceError, PermissionDenied
from hub.identity import Actor
from hub.services import Hub
from hub.settings import Settings
from hub.tenant import (
    check_consent,
    consent_status,
    consent_url,
    offer_permissions_missing,
    reason_key,
    record_consent,
)
from relais.demo import DEMO_TENANT_ID, DemoInfo
from relais.services import build_services
from storage.db import Sessions
from storage.models import AuditEvent, Firm
from tests.fakes.entra import CATALOG_ROLE, DEFAULT_GRAPH_ROLES, INSTALL_ROLE, FakeEntra
from tests.hub.graph_arrange import CLIENT_ID, entra_settings, ghub, sleeps
from tests.hub.test_portfolio import Scene, make_scene

FULL_ROLES = (*DEFAULT_GRAPH_ROLES, INSTALL_ROLE, CATALOG_ROLE)

__all__ = ["entra_settings", "ghub", "sleeps"]
OTHER_TENANT = "00000000-0000-4000-8000-00000000b0b0"
CALLBACK = "http://127.0.0.1:3978/admin/tenant/consent/callback"


@pytest.fixture
async def scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    return await make_scene(sessions, demo)


async def _firm(sessions: Sessions, actor: Actor) -> Firm:
    async with sessions() as session:
        firm = await session.get(Firm, actor.firm_id)
        assert firm is not None
        return firm


async def _actions(sessions: Sessions) -> list[tuple[str, dict[str, object]]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("tenant.%")).order_by(AuditEvent.id)
        )
        return [(e.action, e.details) for e in rows]


async def test_the_consent_url_is_the_firms_own_tenant_and_for_administrators(
    ghub: Hub, scene: Scene
) -> None:
    url = await consent_url(ghub, scene.claire, CALLBACK, "nonce.sig")
    parts = urlsplit(url)
    assert parts.path == f"/{DEMO_TENANT_ID}/adminconsent"
    assert parse_qs(parts.query) == {
        "client_id": [CLIENT_ID],
        "redirect_uri": [CALLBACK],
        "state": ["nonce.sig"],
    }
    for actor in (scene.marc, scene.sophie):
        with pytest.raises(PermissionDenied):
            await consent_url(ghub, actor, CALLBACK, "x")
    view = await consent_status(ghub, scene.sophie)
    assert (view.state, view.may_manage, view.configured) == ("none", False, True)


async def test_without_an_app_registration_the_button_explains(
    settings: Settings, sessions: Sessions, scene: Scene
) -> None:
    hub = build_services(settings, sessions)
    assert not (await consent_status(hub, scene.claire)).configured
    with pytest.raises(ExternalServiceError) as caught:
        await consent_url(hub, scene.claire, CALLBACK, "x")
    assert caught.value.key == "tenant.not_configured"


async def test_granted_is_recorded_once_a_token_carries_the_roles(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra
) -> None:
    fake_entra.consent(DEMO_TENANT_ID, CLIENT_ID, FULL_ROLES)
    view = await record_consent(ghub, scene.claire, tenant=DEMO_TENANT_ID, admin_consent="True")
    assert view.granted and view.reason == "" and view.checked_at is not None
    assert not view.partial and view.missing_offer_roles == ()
    firm = await _firm(sessions, scene.claire)
    assert (firm.consent_state, firm.consent_error) == ("granted", "")
    assert await _actions(sessions) == [
        ("tenant.consent_recorded", {"before": "none", "after": "granted"})
    ]


async def test_without_the_offer_roles_consent_is_partly_granted(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra
) -> None:
    # Invitations work (the firm is "granted"), but Relais cannot install itself for guests.
    fake_entra.consent(DEMO_TENANT_ID, CLIENT_ID, (*DEFAULT_GRAPH_ROLES, CATALOG_ROLE))
    view = await record_consent(ghub, scene.claire, tenant=DEMO_TENANT_ID, admin_consent="True")
    assert view.granted and view.partial
    assert view.missing_offer_roles == (INSTALL_ROLE,)
    assert await offer_permissions_missing(ghub, scene.sophie) == (INSTALL_ROLE,)
    firm = await _firm(sessions, scene.claire)
    assert (firm.consent_state, firm.consent_error) == (
        "granted",
        "offer_roles_missing: TeamsAppInstallation.ReadWriteForUser.All",
    )
    fake_entra.consent(DEMO_TENANT_ID, CLIENT_ID, FULL_ROLES)
    view = await check_consent(ghub, scene.claire)
    assert view.granted and not view.partial
    assert await offer_permissions_missing(ghub, scene.sophie) == ()


async def test_an_answer_without_a_real_consent_is_not_believed(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra
) -> None:
    # Entra's redirect says True, but the tenant never consented: the token says otherwise.
    view = await record_consent(ghub, scene.claire, tenant=DEMO_TENANT_ID, admin_consent="True")
    assert view.state == "failed" and view.reason == "tenant.reason.not_granted"
    assert "AADSTS700016" in view.error


async def test_missing_roles_are_not_a_consent(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra
) -> None:
    fake_entra.consent(DEMO_TENANT_ID, CLIENT_ID, roles=("User.Read.All",))
    view = await record_consent(ghub, scene.claire, tenant=DEMO_TENANT_ID, admin_consent="True")
    assert view.state == "failed"
    assert view.error == "roles_missing: User.Invite.All"
    assert view.reason == "tenant.reason.roles_missing"


async def test_a_refusal_is_recorded_with_entras_words(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra
) -> None:
    view = await record_consent(
        ghub,
        scene.claire,
        tenant=None,
        admin_consent=None,
        error="access_denied",
        error_description="AADSTS65004: User declined to consent to access the app.",
    )
    assert view.state == "failed" and view.reason == "tenant.reason.declined"
    assert view.error == "access_denied: AADSTS65004: User declined to consent to access the app."
    assert len(fake_entra.tokens) == 0
    assert (await _actions(sessions))[0][0] == "tenant.consent_refused"


async def test_a_callback_for_another_tenant_is_refused_and_changes_nothing(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra
) -> None:
    fake_entra.consent(OTHER_TENANT, CLIENT_ID)
    with pytest.raises(PermissionDenied) as caught:
        await record_consent(ghub, scene.claire, tenant=OTHER_TENANT, admin_consent="True")
    assert caught.value.key == "tenant.wrong_tenant"
    assert (await _firm(sessions, scene.claire)).consent_state == "none"
    assert len(fake_entra.tokens) == 0 and await _actions(sessions) == []
    # Only administrators record anything, even for their own tenant.
    with pytest.raises(PermissionDenied):
        await record_consent(ghub, scene.marc, tenant=DEMO_TENANT_ID, admin_consent="True")


async def test_check_again_follows_the_tenant(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra
) -> None:
    assert (await check_consent(ghub, scene.claire)).state == "failed"
    fake_entra.consent(DEMO_TENANT_ID, CLIENT_ID)
    assert (await check_consent(ghub, scene.claire)).granted
    fake_entra.revoke_consent(DEMO_TENANT_ID, CLIENT_ID)
    # A fresh token every time: the withdrawal shows at once, not after the cached one expires.
    assert (await check_consent(ghub, scene.claire)).state == "failed"
    assert [a for a, _ in await _actions(sessions)] == ["tenant.consent_checked"] * 3
    with pytest.raises(PermissionDenied):
        await check_consent(ghub, scene.sophie)


def test_reasons_in_plain_words() -> None:
    assert reason_key("access_denied: AADSTS65004: declined") == "tenant.reason.declined"
    assert reason_key("invalid_request: AADSTS90094: admin needed") == "tenant.reason.not_admin"
    assert reason_key("invalid_client: AADSTS7000215: bad secret") == (
        "tenant.reason.app_misconfigured"
    )
    assert reason_key("server_error: something") == "tenant.reason.other"

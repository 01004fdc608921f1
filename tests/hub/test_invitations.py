"""Inviting a contact in the firm's Microsoft 365 (seed 003 §5), against the fake Entra + Graph, on both
databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hub.contacts import (
    contact_invitation,
    invite_contact,
    refresh_contact,
    refresh_invitation,
    refresh_pending,
    valid_email,
)
from hub.errors import (
    ConsentMissing,
    ExternalServiceError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from hub.i18n import Translator
from hub.identity import resolve
from hub.portfolio import applications_dialog
from hub.services import Hub
from relais.demo import DEMO_TENANT_ID, DemoInfo
from storage.db import Sessions
from storage.models import AuditEvent, Contact, ContactDossier, Dossier, Firm, Invitation
from tests.fakes.entra import FakeEntra
from tests.hub.graph_arrange import Sleeps, entra_settings, ghub, set_consent, sleeps
from tests.hub.test_portfolio import Scene, make_scene

__all__ = ["entra_settings", "ghub", "sleeps"]


@pytest.fixture
async def scene(sessions: Sessions, demo: DemoInfo) -> Scene:
    return await make_scene(sessions, demo)


@pytest.fixture
async def consented(sessions: Sessions, fake_entra: FakeEntra, demo: DemoInfo) -> None:
    await set_consent(sessions, fake_entra, demo.firm_id, DEMO_TENANT_ID)


async def _contact(sessions: Sessions, contact_id: int) -> Contact:
    async with sessions() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        return contact


async def _invitations(sessions: Sessions, contact_id: int) -> list[Invitation]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(Invitation)
                .where(Invitation.contact_id == contact_id)
                .order_by(Invitation.id)
            )
        )


async def _actions(sessions: Sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.action.like("invitation.%") | AuditEvent.action.like("tenant.%"))
            .order_by(AuditEvent.id)
        )
        return [(a, b) for a, b in rows]


def _invites(fake_entra: FakeEntra) -> list[Any]:
    return [c for c in fake_entra.graph_calls.items if c.path == "/v1.0/invitations"]


# --------------------------------------------------------------------------- inviting


async def test_a_contact_is_invited_in_their_language_and_recorded(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    view = await invite_contact(ghub, scene.sophie, scene.uninvited)
    assert (view.outcome, view.status, view.guest_state) == ("invited", "pending", "invited")
    (call,) = _invites(fake_entra)
    assert call.tenant_id == DEMO_TENANT_ID
    assert call.body["invitedUserEmailAddress"] == "n@zzt.fr"
    assert call.body["invitedUserDisplayName"] == "Nina Neuve"
    assert (
        call.body["inviteRedirectUrl"] == f"https://teams.microsoft.com/?tenantId={DEMO_TENANT_ID}"
    )
    assert call.body["sendInvitationMessage"] is True
    info = call.body["invitedUserMessageInfo"]
    assert info["messageLanguage"] == "fr-FR"
    assert info["customizedMessageBody"] == Translator("hub", "fr")(
        "invitation.message", name="Nina Neuve", firm=scene.sophie.firm_name, email="n@zzt.fr"
    )
    assert info["customizedMessageBody"].startswith("Bonjour Nina Neuve,")
    # The lookup by address came first: nobody is invited twice.
    assert fake_entra.graph_calls.items[0].path.startswith("/v1.0/users?")

    (invitation,) = await _invitations(sessions, scene.uninvited)
    assert invitation.status == "pending" and invitation.graph_user_id
    assert invitation.graph_invitation_id and invitation.redeem_url.startswith(fake_entra.url)
    assert invitation.invited_by_id == scene.sophie.id
    contact = await _contact(sessions, scene.uninvited)
    assert (contact.guest_state, contact.entra_object_id) == ("invited", None)
    assert await _actions(sessions) == [("invitation.sent", scene.sophie.ref)]


async def test_an_english_contact_gets_the_english_message(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Contact).where(Contact.id == scene.uninvited).values(locale="en-GB")
        )
    await invite_contact(ghub, scene.james, scene.uninvited)
    info = _invites(fake_entra)[0].body["invitedUserMessageInfo"]
    assert info["messageLanguage"] == "en-US"
    assert info["customizedMessageBody"].startswith("Hello Nina Neuve,")


@pytest.mark.parametrize("lang", ["fr", "en"])
async def test_without_consent_the_answer_says_how_to_grant_it(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, lang: str
) -> None:
    with pytest.raises(ConsentMissing) as caught:
        await invite_contact(ghub, scene.sophie, scene.uninvited)
    error = caught.value
    assert error.params == {
        "contact": "Nina Neuve",
        "link": "http://127.0.0.1:3978/admin/tenant",
    }
    text = Translator("admin", lang)(error.key, **error.params)
    expected = {
        "fr": "Impossible d'inviter Nina Neuve dans l'espace Microsoft du cabinet : Relais n'y a pas "
        "encore reçu le consentement d'un administrateur. Un administrateur doit d'abord "
        "accorder le consentement : http://127.0.0.1:3978/admin/tenant",
        "en": "Nina Neuve cannot be invited to the firm's Microsoft 365 yet: Relais has not received "
        "an administrator's consent there. An administrator must grant consent "
        "first: http://127.0.0.1:3978/admin/tenant",
    }
    assert text == expected[lang]
    assert len(fake_entra.graph_calls) == 0 and len(fake_entra.tokens) == 0
    assert await _invitations(sessions, scene.uninvited) == []
    assert (await _contact(sessions, scene.uninvited)).guest_state == "none"


async def test_an_invalid_email_is_refused_before_any_call(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    assert valid_email("julie.bernard+tag@client-bla.fr")
    for bad in ("n@zzt", "no at sign", "a@b..fr", "a b@c.fr", ".a@b.fr", "a@-b.fr"):
        assert not valid_email(bad), bad
    async with sessions() as session, session.begin():
        await session.execute(
            update(Contact).where(Contact.id == scene.uninvited).values(email="nina@zzt")
        )
    with pytest.raises(InvalidInput) as caught:
        await invite_contact(ghub, scene.sophie, scene.uninvited)
    assert caught.value.field == "email" and caught.value.key == "invitations.bad_email"
    assert len(fake_entra.graph_calls) == 0
    assert await _invitations(sessions, scene.uninvited) == []


async def test_a_contact_already_guest_is_not_invited_again(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    view = await invite_contact(ghub, scene.sophie, scene.guest)
    assert view.outcome == "already_guest" and view.guest_state == "guest"
    assert len(fake_entra.graph_calls) == 0


async def test_a_contact_already_in_the_tenant_is_recognised_and_recorded(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    oid = "c0000000-0000-4000-8000-0000000000bb"
    fake_entra.add_user(DEMO_TENANT_ID, oid, "Nina Neuve", "n@zzt.fr", user_type="Guest")
    fake_entra.accept_invitation(DEMO_TENANT_ID, "n@zzt.fr")
    view = await invite_contact(ghub, scene.marc, scene.uninvited)
    assert (view.outcome, view.status, view.guest_state) == ("already_guest", "accepted", "guest")
    assert _invites(fake_entra) == []
    contact = await _contact(sessions, scene.uninvited)
    assert (contact.guest_state, contact.entra_object_id) == ("guest", oid)
    assert await _actions(sessions) == [("invitation.recognised", scene.marc.ref)]
    # Asking again changes nothing and calls nobody.
    calls = len(fake_entra.graph_calls)
    assert (await invite_contact(ghub, scene.marc, scene.uninvited)).outcome == "already_guest"
    assert len(fake_entra.graph_calls) == calls


async def test_a_pending_guest_in_the_tenant_is_not_sent_a_second_invitation(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    first = await invite_contact(ghub, scene.sophie, scene.uninvited)
    again = await invite_contact(ghub, scene.sophie, scene.uninvited)
    assert again.outcome == "already_invited" and again.invitation_id == first.invitation_id
    assert len(_invites(fake_entra)) == 1
    assert len(await _invitations(sessions, scene.uninvited)) == 1


async def test_accepted_the_contact_becomes_a_guest_the_bot_and_the_dialog_know(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    view = await invite_contact(ghub, scene.sophie, scene.uninvited)
    assert view.invitation_id is not None
    still = await refresh_invitation(ghub, scene.sophie, view.invitation_id)
    assert (still.outcome, still.status) == ("checked", "pending")

    fake_entra.accept_invitation(DEMO_TENANT_ID, "n@zzt.fr")
    done = await refresh_invitation(ghub, scene.sophie, view.invitation_id)
    assert (done.outcome, done.status, done.guest_state) == ("accepted", "accepted", "guest")
    (invitation,) = await _invitations(sessions, scene.uninvited)
    contact = await _contact(sessions, scene.uninvited)
    assert contact.entra_object_id == invitation.graph_user_id
    assert contact.guest_state == "guest"

    # Teams now recognises the contact, and the portfolio dialog offers them applications.
    actor = await resolve(sessions, DEMO_TENANT_ID, invitation.graph_user_id)
    assert (actor.kind, actor.id) == ("contact", scene.uninvited)
    dialog = await applications_dialog(ghub, scene.sophie, scene.code)
    start = next(a for a in dialog.applications if a.id == scene.apps["start"])
    nina = next(c for c in start.contacts if c.id == scene.uninvited)
    assert nina.eligible and nina.reason == ""
    assert await _actions(sessions) == [
        ("invitation.sent", scene.sophie.ref),
        ("invitation.checked", scene.sophie.ref),
        ("invitation.accepted", scene.sophie.ref),
    ]
    # Checking an accepted invitation calls nobody.
    calls = len(fake_entra.graph_calls)
    assert (await refresh_contact(ghub, scene.sophie, scene.uninvited)).status == "accepted"
    assert len(fake_entra.graph_calls) == calls


async def test_the_background_refresher_records_acceptances_as_the_system(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    await invite_contact(ghub, scene.sophie, scene.uninvited)
    await invite_contact(ghub, scene.sophie, scene.invited)  # Ivan: invited elsewhere before
    fake_entra.accept_invitation(DEMO_TENANT_ID, "n@zzt.fr")
    # Just checked: not due yet.
    assert await refresh_pending(ghub) == 0
    assert await refresh_pending(ghub, every=timedelta(0)) == 1
    assert (await _contact(sessions, scene.uninvited)).guest_state == "guest"
    assert (await _contact(sessions, scene.invited)).guest_state == "invited"
    assert ("invitation.accepted", "system") in await _actions(sessions)
    # Bounded: one per round when asked so.
    fake_entra.accept_invitation(DEMO_TENANT_ID, "ivan@zzt.fr")
    assert await refresh_pending(ghub, every=timedelta(0), limit=1) == 1
    assert await refresh_pending(ghub, every=timedelta(0)) == 0


async def test_a_refusal_by_microsoft_is_recorded_as_a_failed_invitation(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    fake_entra.graph_fail_next(
        400,
        "BadRequest",
        "Guest invitations not allowed for your company. Contact your company administrator.",
        path="/v1.0/invitations",
    )
    with pytest.raises(ExternalServiceError) as caught:
        await invite_contact(ghub, scene.sophie, scene.uninvited)
    assert caught.value.key == "invitations.graph_refused"
    assert caught.value.params["detail"].startswith("Guest invitations not allowed")
    (invitation,) = await _invitations(sessions, scene.uninvited)
    assert invitation.status == "failed" and "Guest invitations not allowed" in invitation.error
    assert (await _contact(sessions, scene.uninvited)).guest_state == "failed"
    assert await _actions(sessions) == [("invitation.failed", scene.sophie.ref)]
    view = await contact_invitation(ghub, scene.sophie, scene.uninvited)
    assert view.status == "failed" and view.may_invite


async def test_throttling_is_waited_out_and_a_lasting_outage_fails_cleanly(
    ghub: Hub,
    scene: Scene,
    sessions: Sessions,
    fake_entra: FakeEntra,
    consented: None,
    sleeps: Sleeps,
) -> None:
    fake_entra.graph_fail_next(429, "TooManyRequests", "Slow down", retry_after="2")
    view = await invite_contact(ghub, scene.sophie, scene.uninvited)
    assert view.outcome == "invited" and sleeps.calls == [2.0]

    for _ in range(4):
        fake_entra.graph_fail_next(503, "ServiceUnavailable", "Try later", path="/v1.0/users")
    with pytest.raises(ExternalServiceError) as caught:
        await invite_contact(ghub, scene.sophie, scene.invited)
    assert caught.value.key == "invitations.graph_busy"
    assert (await _contact(sessions, scene.invited)).guest_state == "failed"


async def test_consent_withdrawn_in_the_tenant_is_noticed_and_nothing_half_recorded(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    fake_entra.revoke_consent(DEMO_TENANT_ID, "33333333-4444-4555-8666-777777777777")
    with pytest.raises(ConsentMissing):
        await invite_contact(ghub, scene.sophie, scene.uninvited)
    assert await _invitations(sessions, scene.uninvited) == []
    assert (await _contact(sessions, scene.uninvited)).guest_state == "none"
    async with sessions() as session:
        firm = await session.get(Firm, scene.sophie.firm_id)
        assert firm is not None and firm.consent_state == "failed"
        assert "AADSTS700016" in firm.consent_error
    assert await _actions(sessions) == [("tenant.consent_lost", scene.sophie.ref)]


# --------------------------------------------------------------------------- rights and firms


async def test_who_may_invite(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    with pytest.raises(PermissionDenied) as caught:
        await invite_contact(ghub, scene.other, scene.uninvited)
    assert caught.value.key == "invitations.rights"
    assert not (await contact_invitation(ghub, scene.other, scene.uninvited)).may_invite
    for actor in (scene.claire, scene.marc, scene.sophie, scene.james):
        assert (await contact_invitation(ghub, actor, scene.uninvited)).may_invite
    # Through a named dossier: it must be one of the contact's, and the actor's to act on.
    async with sessions() as session, session.begin():
        other = Dossier(firm_id=scene.sophie.firm_id, code="ZZT999", name="Autre")
        session.add(other)
    with pytest.raises(NotFound):
        await invite_contact(ghub, scene.sophie, scene.uninvited, dossier_code="ZZT999")
    with pytest.raises(PermissionDenied):
        await invite_contact(ghub, scene.other, scene.uninvited, dossier_code=scene.code)
    view = await invite_contact(ghub, scene.james, scene.uninvited, dossier_code=scene.code)
    assert view.outcome == "invited"
    assert len(_invites(fake_entra)) == 1


async def test_another_firms_contacts_and_invitations_are_not_found(
    ghub: Hub, scene: Scene, sessions: Sessions, fake_entra: FakeEntra, consented: None
) -> None:
    async with sessions() as session, session.begin():
        firm = Firm(
            name="Autre", tenant_id="00000000-0000-4000-8000-00000000b0b0", consent_state="granted"
        )
        session.add(firm)
        await session.flush()
        dossier = Dossier(firm_id=firm.id, code="BOB001", name="B")
        bob = Contact(firm_id=firm.id, first_name="Bob", last_name="Autre", email="bob@b.fr")
        session.add_all([dossier, bob])
        await session.flush()
        session.add(ContactDossier(firm_id=firm.id, contact_id=bob.id, dossier_id=dossier.id))
        invitation = Invitation(
            firm_id=firm.id, contact_id=bob.id, graph_user_id="x", status="pending"
        )
        session.add(invitation)
        await session.flush()
        bob_id, invitation_id = bob.id, invitation.id
    for call in (
        invite_contact(ghub, scene.claire, bob_id),
        refresh_invitation(ghub, scene.claire, invitation_id),
        refresh_contact(ghub, scene.claire, bob_id),
        contact_invitation(ghub, scene.claire, bob_id),
    ):
        with pytest.raises(NotFound):
            await call
    assert len(fake_entra.graph_calls) == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Invitation)) == 1

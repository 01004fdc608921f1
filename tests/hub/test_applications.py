"""The firm's applications, at the use-case level: rights, firm isolation, validation, the wizard's
selection rule, one transaction, sealed secrets, deletion with its emails, defaults, speed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from hub import applications as apps
from hub.applications import Definition, Selection, attach_defaults, wizard
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor, resolve
from hub.services import Hub
from hub.settings import Settings
from relais.demo import DEMO_STAFF, DEMO_TENANT_ID
from relais.services import build_services
from storage.models import (
    ApplicationDraft,
    AuditEvent,
    Connection,
    ContactAccess,
    ContactDossier,
    Dossier,
    Firm,
    FirmApplication,
    StaffUser,
)
from tests.fakes.smtp import FakeSmtp
from tests.statements import statements

CLAIRE, MARC, SOPHIE, JAMES = (person[0] for person in DEMO_STAFF)
SECRET = "s3cret-value-never-shown"
JURIDIQUE = Definition(
    app="juridique",
    api_key_id="KEY-123",
    secret=SECRET,
    api_url="https://api.example.test/v1",
    fields={"legal_domain": "cabinet-durand"},
    sic_code="SIC-75001",
)


async def actor(sessions: Any, object_id: str, tenant: str = DEMO_TENANT_ID) -> Actor:
    return await resolve(sessions, tenant, object_id)


async def count(sessions: Any, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def matching(sessions: Any, firm_id: int, term: str) -> int:
    async with sessions() as session:
        codes = await session.execute(
            select(Dossier.code, Dossier.name).where(Dossier.firm_id == firm_id)
        )
        return sum(1 for c, n in codes if term in c.lower() or term in n.lower())


@pytest.fixture
async def claire(demo: Any, sessions: Any) -> Actor:
    return await actor(sessions, CLAIRE)


@pytest.fixture
async def sophie(demo: Any, sessions: Any) -> Actor:
    return await actor(sessions, SOPHIE)


async def other_firm(sessions: Any) -> tuple[Actor, list[int]]:
    """A second firm with its own administrator and three dossiers."""
    async with sessions() as session, session.begin():
        firm = Firm(name="Cabinet Autre", tenant_id="other-tenant", sic_codes=["SIC-1"])
        session.add(firm)
        await session.flush()
        session.add(
            StaffUser(
                firm_id=firm.id,
                entra_object_id="other-admin",
                email="admin@autre.fr",
                display_name="Autre Admin",
                role="administrator",
            )
        )
        dossiers = [
            Dossier(firm_id=firm.id, code=f"AUT{i}", name=f"Autre SAS {i}") for i in range(3)
        ]
        session.add_all(dossiers)
        await session.flush()
        ids = [d.id for d in dossiers]
    return await actor(sessions, "other-admin", "other-tenant"), ids


# --------------------------------------------------------------------------- reading and rights


async def test_everyone_on_staff_reads_the_list_but_only_administrators_manage(
    hub: Hub, claire: Actor, sophie: Actor
) -> None:
    for person, manages in ((claire, True), (sophie, False)):
        view = await apps.overview(hub, person)
        assert view.can_manage is manages
        assert view.applications == []
        unused = {e.slug for e in view.unused}
        assert unused >= {"start", "juridique", "ocr-achats"} if manages else unused == set()


async def test_a_collaborator_is_refused_every_change_and_nothing_changes(
    hub: Hub, sessions: Any, claire: Actor, sophie: Actor
) -> None:
    added = await apps.add_application(hub, claire, JURIDIQUE)
    draft = await apps.save_draft(hub, claire, Definition(app="start"))
    attempts = [
        apps.choices(hub, sophie),
        apps.save_draft(hub, sophie, JURIDIQUE),
        apps.add_application(hub, sophie, Definition(app="start")),
        apps.get_draft(hub, sophie, draft),
        apps.select_all(hub, sophie, draft),
        apps.validate_draft(hub, sophie, draft),
        apps.application_for_edit(hub, sophie, added.id),
        apps.update_application(hub, sophie, added.id, JURIDIQUE),
        apps.deletion_preview(hub, sophie, added.id),
        apps.delete_application(hub, sophie, added.id),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied) as refused:
            await attempt
        assert refused.value.key == "rights.admin_only"
    assert await count(sessions, FirmApplication) == 1
    assert await count(sessions, ApplicationDraft) == 1
    events = await count(sessions, AuditEvent, AuditEvent.action.like("application.%"))
    assert events == 1


async def test_another_firm_can_neither_see_nor_touch_this_firms_applications_or_drafts(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    stranger, their_dossiers = await other_firm(sessions)
    added = await apps.add_application(hub, claire, JURIDIQUE, Selection.everything())
    draft = await apps.save_draft(hub, claire, Definition(app="start"))

    assert (await apps.overview(hub, stranger)).applications == []
    for attempt in (
        apps.application_for_edit(hub, stranger, added.id),
        apps.update_application(hub, stranger, added.id, JURIDIQUE),
        apps.deletion_preview(hub, stranger, added.id),
        apps.delete_application(hub, stranger, added.id),
        apps.get_draft(hub, stranger, draft),
        apps.browse_dossiers(hub, stranger, draft, None),
        apps.validate_draft(hub, stranger, draft),
        apps.cancel_draft(hub, stranger, draft),
    ):
        with pytest.raises(NotFound) as missing:
            await attempt
        assert "other" not in missing.value.key

    # Firm A's dossier ids ticked in firm B's wizard are ignored, and Validate attaches only B's.
    own = await apps.save_draft(hub, stranger, replace(JURIDIQUE, sic_code=""))
    async with sessions() as session:
        firm_a_ids = list(
            await session.scalars(
                select(Dossier.id).where(Dossier.firm_id == claire.firm_id).limit(5)
            )
        )
    assert await apps.tick_dossiers(hub, stranger, own, firm_a_ids, firm_a_ids) == 0
    assert await apps.select_all(hub, stranger, own) == 3
    result = await apps.validate_draft(hub, stranger, own)
    assert result.dossiers == 3
    async with sessions() as session:
        attached = set(
            await session.scalars(
                select(Connection.dossier_id).where(Connection.firm_application_id == result.id)
            )
        )
    assert attached == set(their_dossiers)
    # Firm A still has its application and all 200 connections.
    assert await count(sessions, Connection, Connection.firm_application_id == added.id) == 200


# --------------------------------------------------------------------------- step 1


async def test_step_one_reports_every_wrong_field_at_once(hub: Hub, claire: Actor) -> None:
    with pytest.raises(InvalidInput) as wrong:
        await apps.save_draft(hub, claire, Definition(app="juridique"))
    assert wrong.value.params["problems"] == {
        "api_key_id": "applications.error.required",
        "secret": "applications.error.required",
        "api_url": "applications.error.required",
        "field.legal_domain": "applications.error.required",
        "sic_code": "applications.error.sic",
    }
    assert wrong.value.field == "api_key_id"

    bad = Definition(
        app="juridique",
        api_key_id="K",
        secret="x",
        api_url="not a url",
        fields={"legal_domain": "ab"},
        sic_code="SIC-00000",
    )
    with pytest.raises(InvalidInput) as wrong:
        await apps.save_draft(hub, claire, bad)
    assert wrong.value.params["problems"] == {
        "api_url": "applications.error.url",
        "field.legal_domain": "applications.error.pattern",
        "sic_code": "applications.error.sic",
    }


async def test_unknown_or_already_added_applications_are_not_offered(
    hub: Hub, claire: Actor
) -> None:
    with pytest.raises(InvalidInput) as wrong:
        await apps.save_draft(hub, claire, Definition(app="no-such-app"))
    assert wrong.value.field == "app"
    await apps.add_application(hub, claire, JURIDIQUE)
    assert "juridique" not in {e.slug for e in (await apps.choices(hub, claire)).entries}
    with pytest.raises(InvalidInput):
        await apps.save_draft(hub, claire, JURIDIQUE)


async def test_partner_email_is_asked_for_collection_email_apps_and_checked(
    hub: Hub, claire: Actor
) -> None:
    with pytest.raises(InvalidInput) as wrong:
        await apps.save_draft(hub, claire, Definition(app="pre-compta-email"))
    assert wrong.value.params["problems"] == {"partner_email": "applications.error.required"}
    with pytest.raises(InvalidInput) as wrong:
        await apps.save_draft(hub, claire, Definition(app="pre-compta-email", partner_email="nope"))
    assert wrong.value.params["problems"] == {"partner_email": "applications.error.email"}
    # Relais generates the addresses for this one: the partner email is optional.
    draft = await apps.save_draft(hub, claire, Definition(app="collecte-notes-de-frais"))
    assert (await apps.get_draft(hub, claire, draft)).definition.partner_email == ""


async def test_outside_the_demo_the_api_url_must_be_https(
    settings: Settings, sessions: Any, claire: Actor
) -> None:
    # api.example.test resolves nowhere: a test lab's name, exempt from the address policy.
    lab = settings.model_copy(update={"demo": False, "outbound_allow": "api.example.test"})
    production = build_services(lab, sessions)
    plain = replace(JURIDIQUE, api_url="http://api.example.test")
    with pytest.raises(InvalidInput) as wrong:
        await apps.save_draft(production, claire, plain)
    assert wrong.value.params["problems"] == {"api_url": "applications.error.https"}
    trimmed = replace(JURIDIQUE, api_url="  https://api.example.test  ")
    draft = await apps.save_draft(production, claire, trimmed)
    assert (await apps.get_draft(production, claire, draft)).definition.api_url == (
        "https://api.example.test"
    )


@pytest.mark.parametrize(
    "api_url",
    [
        "https://127.0.0.1/v1",
        "https://localhost:8443/v1",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://10.0.0.8/",
        "https://169.254.169.254/latest",
        "https://[::ffff:127.0.0.1]/",
        "https://[fd00::1]/",
        "https://[::1]:8443/",
    ],
)
async def test_outside_the_demo_an_api_url_on_the_servers_own_network_is_refused(
    settings: Settings, sessions: Any, claire: Actor, api_url: str
) -> None:
    production = build_services(settings.model_copy(update={"demo": False}), sessions)
    internal = replace(JURIDIQUE, api_url=api_url)
    for attempt in (
        apps.save_draft(production, claire, internal),
        apps.add_application(production, claire, internal),
    ):
        with pytest.raises(InvalidInput) as wrong:
            await attempt
        assert wrong.value.params["problems"] == {"api_url": "applications.error.unreachable"}
    assert await count(sessions, FirmApplication) == 0
    assert await count(sessions, ApplicationDraft) == 0


async def test_a_public_address_or_an_allowed_lab_host_is_accepted_outside_the_demo(
    settings: Settings, sessions: Any, claire: Actor
) -> None:
    production = build_services(settings.model_copy(update={"demo": False}), sessions)
    draft = await apps.save_draft(
        production, claire, replace(JURIDIQUE, api_url="https://93.184.216.34/v1")
    )
    assert (await apps.get_draft(production, claire, draft)).definition.api_url == (
        "https://93.184.216.34/v1"
    )
    lab = build_services(
        settings.model_copy(update={"demo": False, "outbound_allow": "127.0.0.1"}), sessions
    )
    await apps.save_draft(lab, claire, replace(JURIDIQUE, api_url="https://127.0.0.1:8443"), draft)


async def test_the_edit_form_refuses_an_internal_address_and_keeps_the_old_one(
    settings: Settings, sessions: Any, claire: Actor
) -> None:
    production = build_services(settings.model_copy(update={"demo": False}), sessions)
    public = replace(JURIDIQUE, api_url="https://93.184.216.34/v1")
    added = await apps.add_application(production, claire, public)
    with pytest.raises(InvalidInput) as wrong:
        await apps.update_application(
            production, claire, added.id, replace(public, api_url="https://192.168.1.20/v1")
        )
    assert wrong.value.params["problems"] == {"api_url": "applications.error.unreachable"}
    view = await apps.application_for_edit(production, claire, added.id)
    assert view.definition.api_url == "https://93.184.216.34/v1"


async def test_a_single_sic_code_is_taken_without_asking(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    async with sessions() as session, session.begin():
        firm = await session.get(Firm, claire.firm_id)
        firm.sic_codes = ["SIC-ONLY"]
    draft = await apps.save_draft(hub, claire, replace(JURIDIQUE, sic_code=""))
    view = await apps.get_draft(hub, claire, draft)
    assert view.definition.sic_code == "SIC-ONLY"


async def test_the_secret_is_sealed_and_never_returned(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    draft = await apps.save_draft(hub, claire, JURIDIQUE)
    view = await apps.get_draft(hub, claire, draft)
    assert view.has_secret and view.definition.secret == ""
    assert SECRET not in repr(view)
    # Back to step 1 and Next again with an empty secret: the sealed one is kept.
    await apps.save_draft(hub, claire, replace(JURIDIQUE, secret=""), draft)
    added = await apps.validate_draft(hub, claire, draft)
    async with sessions() as session:
        app = await session.get(FirmApplication, added.id)
        assert app is not None and app.secret_encrypted is not None
        assert SECRET.encode() not in app.secret_encrypted
        assert hub.vault.open(app.secret_encrypted) == SECRET
        events = list(await session.scalars(select(AuditEvent)))
    assert all(SECRET not in repr(e.details) for e in events)
    for shown in (
        await apps.overview(hub, claire),
        await apps.application_for_edit(hub, claire, added.id),
    ):
        assert SECRET not in repr(shown)


# --------------------------------------------------------------------------- steps 2 and 3


async def test_search_page_tick_apply_to_all_and_validate(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    expected = await matching(sessions, claire.firm_id, "sas")
    assert expected > 50
    draft = await apps.save_draft(hub, claire, JURIDIQUE)

    first = await apps.browse_dossiers(hub, claire, draft, "sas", 1)
    assert (first.page.total, first.page.pages, len(first.page.items)) == (expected, 2, 50)
    second = await apps.browse_dossiers(hub, claire, draft, "sas", 2)
    assert len(second.page.items) == expected - 50
    shown = [row.id for row in second.page.items]
    assert await apps.tick_dossiers(hub, claire, draft, shown, shown) == len(shown)
    assert all(
        r.selected for r in (await apps.browse_dossiers(hub, claire, draft, "sas", 2)).page.items
    )
    assert await apps.select_all(hub, claire, draft, "sas") == expected
    # Untick two on page 1: the rule keeps them out, on every page.
    out = [r.id for r in first.page.items[:2]]
    assert await apps.tick_dossiers(hub, claire, draft, out, []) == expected - 2
    stored = (await apps.get_draft(hub, claire, draft)).selection
    assert stored.all and stored.query == "sas" and stored.excluded == frozenset(out)

    summary = await apps.draft_summary(hub, claire, draft)
    assert summary.count == expected - 2
    assert len(summary.page.items) == 50
    added = await apps.validate_draft(hub, claire, draft)
    assert added.dossiers == expected - 2
    assert await count(sessions, Connection, Connection.firm_application_id == added.id) == (
        expected - 2
    )
    assert await count(sessions, ApplicationDraft) == 0
    async with sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "application.added")
        )
    assert event is not None and event.actor == claire.ref
    assert event.details["dossiers"] == expected - 2
    assert "included" not in event.details and len(repr(event.details)) < 300


async def test_zero_dossiers_is_allowed_and_clear_resets_the_rule(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    draft = await apps.save_draft(hub, claire, JURIDIQUE)
    assert await apps.select_all(hub, claire, draft) == 200
    assert await apps.clear_selection(hub, claire, draft) == 0
    assert (await apps.draft_summary(hub, claire, draft)).count == 0
    added = await apps.validate_draft(hub, claire, draft)
    assert added.dossiers == 0
    assert await count(sessions, FirmApplication) == 1


async def test_apps_that_need_a_contact_skip_the_dossier_step_and_attach_none(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    draft = await apps.save_draft(hub, claire, Definition(app="start", is_default=True))
    view = await apps.get_draft(hub, claire, draft)
    assert not view.entry.takes_dossiers
    assert view.definition.is_default is False  # the flag means nothing for these
    await apps.select_all(hub, claire, draft)  # even forged, it is not applied
    assert (await apps.draft_summary(hub, claire, draft)).count == 0
    assert (await apps.validate_draft(hub, claire, draft)).dossiers == 0
    assert await count(sessions, Connection) == 0


async def test_validate_is_one_transaction(
    hub: Hub, sessions: Any, claire: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = await apps.save_draft(hub, claire, JURIDIQUE)
    await apps.select_all(hub, claire, draft)

    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit store down")

    # The audit event is written last, after the application and its 200 connections.
    monkeypatch.setattr(wizard, "record", fail)
    with pytest.raises(RuntimeError):
        await apps.validate_draft(hub, claire, draft)
    assert await count(sessions, FirmApplication) == 0
    assert await count(sessions, Connection) == 0
    assert await count(sessions, ApplicationDraft) == 1
    monkeypatch.undo()
    assert (await apps.validate_draft(hub, claire, draft)).dossiers == 200


async def test_the_same_application_twice_is_a_conflict(hub: Hub, claire: Actor) -> None:
    first = await apps.save_draft(hub, claire, JURIDIQUE)
    second = await apps.save_draft(hub, claire, JURIDIQUE)
    await apps.validate_draft(hub, claire, first)
    with pytest.raises(Conflict):
        await apps.validate_draft(hub, claire, second)


async def test_default_applications_reach_new_dossiers(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    added = await apps.add_application(hub, claire, replace(JURIDIQUE, is_default=True))
    await apps.add_application(
        hub, claire, Definition(app="pilotage-cabinet", api_key_id="P-1", sic_code="SIC-69002")
    )
    async with sessions() as session, session.begin():
        dossier = Dossier(firm_id=claire.firm_id, code="NEW001", name="Nouvelle SAS")
        session.add(dossier)
        await session.flush()
        assert await attach_defaults(session, claire.firm_id, [dossier.id]) == 1
    async with sessions() as session:
        linked = list(
            await session.scalars(
                select(Connection.firm_application_id).where(Connection.dossier_id == dossier.id)
            )
        )
    assert linked == [added.id]


async def test_apply_to_all_on_ten_thousand_dossiers_is_fast(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            insert(Dossier),
            [
                {"firm_id": claire.firm_id, "code": f"BULK{i:05d}", "name": f"Bulk {i} SAS"}
                for i in range(10_000 - 200)
            ],
        )
    draft = await apps.save_draft(hub, claire, JURIDIQUE)
    with statements(hub.sessions) as sent:
        assert await apps.select_all(hub, claire, draft) == 10_000
        added = await apps.validate_draft(hub, claire, draft)
    assert added.dossiers == 10_000
    assert await count(sessions, Connection) == 10_000
    # In bulk, not a statement per dossier (bench/bulk.py measures the time).
    assert len(sent) < 50, f"apply to all + validate sent {len(sent)} statements"


# --------------------------------------------------------------------------- edit


async def test_edit_replaces_the_secret_only_when_one_is_typed(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    added = await apps.add_application(hub, claire, JURIDIQUE)
    keep = replace(JURIDIQUE, secret="", api_key_id="KEY-456")
    await apps.update_application(hub, claire, added.id, keep)
    view = await apps.application_for_edit(hub, claire, added.id)
    assert view.has_secret and view.definition.api_key_id == "KEY-456"
    async with sessions() as session:
        app = await session.get(FirmApplication, added.id)
        assert app is not None and app.secret_encrypted is not None
        assert hub.vault.open(app.secret_encrypted) == SECRET

    new = replace(keep, secret="new-secret", is_default=True)
    await apps.update_application(hub, claire, added.id, new)
    async with sessions() as session:
        app = await session.get(FirmApplication, added.id)
        assert app is not None and app.secret_encrypted is not None
        assert hub.vault.open(app.secret_encrypted) == "new-secret"
        assert app.is_default
        events = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "application.updated")
                .order_by(AuditEvent.id)
            )
        )
    assert [e.details["changed"] for e in events] == [["api_key_id"], ["is_default", "secret"]]
    assert all("new-secret" not in repr(e.details) for e in events)

    with pytest.raises(InvalidInput) as wrong:
        await apps.update_application(
            hub, claire, added.id, replace(keep, fields={"legal_domain": "!"})
        )
    assert wrong.value.params["problems"] == {"field.legal_domain": "applications.error.pattern"}


async def test_moving_the_api_url_to_another_host_asks_for_the_secret_again(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    added = await apps.add_application(hub, claire, JURIDIQUE)

    async def stored_secret() -> str:
        async with sessions() as session:
            app = await session.get(FirmApplication, added.id)
            assert app is not None and app.secret_encrypted is not None
            return hub.vault.open(app.secret_encrypted)

    # Another path on the same host: the stored secret stays, with the key id.
    same_host = replace(JURIDIQUE, secret="", api_url="https://API.example.test/v2/")
    await apps.update_application(hub, claire, added.id, same_host)
    assert await stored_secret() == SECRET

    for elsewhere in (
        "https://attacker.example/v1",
        "https://api.example.test:8443/v1",  # another port is another server
        "https://api.example.test.attacker.example/v1",
    ):
        moved = replace(JURIDIQUE, secret="", api_url=elsewhere)
        with pytest.raises(InvalidInput) as wrong:
            await apps.update_application(hub, claire, added.id, moved)
        assert wrong.value.params["problems"] == {"secret": "applications.error.secret_again"}
    view = await apps.application_for_edit(hub, claire, added.id)
    assert view.definition.api_url == "https://API.example.test/v2/"

    moved = replace(JURIDIQUE, secret="secret-for-the-new-host", api_url="https://new.example/v1")
    await apps.update_application(hub, claire, added.id, moved)
    assert await stored_secret() == "secret-for-the-new-host"
    view = await apps.application_for_edit(hub, claire, added.id)
    assert view.definition.api_url == "https://new.example/v1"
    assert view.definition.api_key_id == JURIDIQUE.api_key_id


async def test_back_in_the_wizard_a_new_api_host_asks_for_the_secret_again(
    hub: Hub, claire: Actor
) -> None:
    draft = await apps.save_draft(hub, claire, JURIDIQUE)
    # The same host, another path: the secret typed at first is kept.
    await apps.save_draft(
        hub, claire, replace(JURIDIQUE, secret="", api_url=JURIDIQUE.api_url + "/x"), draft
    )
    moved = replace(JURIDIQUE, secret="", api_url="https://elsewhere.example/v1")
    with pytest.raises(InvalidInput) as wrong:
        await apps.save_draft(hub, claire, moved, draft)
    assert wrong.value.params["problems"] == {"secret": "applications.error.secret_again"}
    await apps.save_draft(hub, claire, replace(moved, secret="another-secret"), draft)
    assert (await apps.get_draft(hub, claire, draft)).definition.api_url == moved.api_url


# --------------------------------------------------------------------------- delete


async def give_accesses(sessions: Any, firm_id: int, app_id: int, how_many: int) -> list[int]:
    """Offer the platform app to the first contacts on their dossier; returns the masters' ids."""
    async with sessions() as session, session.begin():
        links = list(
            await session.execute(
                select(ContactDossier.contact_id, Dossier.id, Dossier.master_id)
                .join(Dossier, Dossier.id == ContactDossier.dossier_id)
                .where(ContactDossier.firm_id == firm_id)
                .order_by(ContactDossier.id)
                .limit(how_many)
            )
        )
        for index, (contact_id, dossier_id, _) in enumerate(links):
            session.add(
                ContactAccess(
                    firm_id=firm_id,
                    firm_application_id=app_id,
                    contact_id=contact_id,
                    dossier_id=dossier_id,
                    state="accepted" if index % 2 else "offered",
                )
            )
    return [master for _, _, master in links if master is not None]


async def test_deleting_a_platform_app_revokes_accesses_and_mails_each_master_once(
    settings: Settings, sessions: Any, claire: Actor, fake_smtp: FakeSmtp
) -> None:
    hub = build_services(
        settings.model_copy(update={"smtp_host": fake_smtp.host, "smtp_port": fake_smtp.port}),
        sessions,
    )
    added = await apps.add_application(hub, claire, Definition(app="start"))
    masters = await give_accesses(sessions, claire.firm_id, added.id, 12)
    preview = await apps.deletion_preview(hub, claire, added.id)
    assert (preview.accesses, preview.masters) == (12, len(set(masters)))

    done = await apps.delete_application(hub, claire, added.id)

    assert (done.revoked, done.mails_sent, done.mail_failures) == (12, len(set(masters)), [])
    assert await count(sessions, FirmApplication) == 0
    assert await count(sessions, ContactAccess) == 0
    revoked = await count(sessions, AuditEvent, AuditEvent.action == "contact_access.revoked")
    assert revoked == 12
    mails = await fake_smtp.messages.await_for(len(set(masters)))
    async with sessions() as session:
        people = {
            u.email: u
            for u in await session.scalars(select(StaffUser).where(StaffUser.id.in_(masters)))
        }
    assert sorted(r for m in mails for r in m.rcpt_tos) == sorted(people)
    for mail in mails:
        master = people[mail.rcpt_tos[0]]
        if master.locale == "en":
            assert mail.subject == "Relais: the Start application was removed from the firm"
            assert "Your contacts' access to it has been revoked" in mail.text
        else:
            assert mail.subject == "Relais : l'application Start a été supprimée du cabinet"
            assert "Claire Durand a supprimé l'application Start" in mail.text
        assert mail.text.count("\n- ") == masters.count(master.id)


async def test_a_mail_failure_never_undoes_the_deletion(
    settings: Settings, sessions: Any, claire: Actor
) -> None:
    # Nothing listens on port 9 (discard): every send fails.
    hub = build_services(
        settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 9}), sessions
    )
    added = await apps.add_application(hub, claire, Definition(app="coproduction"))
    masters = await give_accesses(sessions, claire.firm_id, added.id, 3)
    done = await apps.delete_application(hub, claire, added.id)
    assert done.revoked == 3 and done.mails_sent == 0
    assert len(done.mail_failures) == len(set(masters))
    assert await count(sessions, FirmApplication) == 0


async def test_deleting_a_partner_app_removes_its_connections_only(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    kept = await apps.add_application(
        hub,
        claire,
        Definition(app="pilotage-cabinet", api_key_id="P", sic_code="SIC-69002"),
        Selection.everything(),
    )
    gone = await apps.add_application(hub, claire, JURIDIQUE, Selection.everything("sas"))
    preview = await apps.deletion_preview(hub, claire, gone.id)
    assert preview.connections == gone.dossiers and preview.accesses == 0
    done = await apps.delete_application(hub, claire, gone.id)
    assert (done.connections, done.revoked, done.mails_sent) == (gone.dossiers, 0, 0)
    assert await count(sessions, Connection) == kept.dossiers == 200
    with pytest.raises(NotFound):
        await apps.delete_application(hub, claire, gone.id)
    async with sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "application.deleted")
        )
    assert event is not None and event.details["connections"] == gone.dossiers

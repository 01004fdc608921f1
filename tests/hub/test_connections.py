"""The connect wizard, at the use-case level: the folder step (suggestion, "apply to the dossiers
already connected"), one-by-one saves (code, email entered or generated), the template import
with every bad-line reason and nothing applied, disconnecting, rights, firm isolation, speed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from hub import applications as apps
from hub import connections as conn
from hub.applications import Definition
from hub.errors import ImportRejected, InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor, resolve
from hub.services import Hub
from relais.demo import DEMO_STAFF, DEMO_TENANT_ID
from storage.models import (
    AuditEvent,
    Connection,
    ConnectionFolder,
    Dossier,
    Firm,
    FirmApplication,
    Folder,
    StaffUser,
    utcnow,
)
from tests.statements import statements

CLAIRE, _MARC, SOPHIE, _JAMES = (person[0] for person in DEMO_STAFF)
OCR = Definition(
    app="ocr-achats",
    api_key_id="KEY-OCR",
    secret="s3cret",
    api_url="https://ocr.example.test/v1",
    sic_code="SIC-75001",
)


@pytest.fixture
async def claire(demo: Any, sessions: Any) -> Actor:
    return await resolve(sessions, DEMO_TENANT_ID, CLAIRE)


@pytest.fixture
async def sophie(demo: Any, sessions: Any) -> Actor:
    return await resolve(sessions, DEMO_TENANT_ID, SOPHIE)


@pytest.fixture
async def ocr(hub: Hub, claire: Actor) -> int:
    return (await apps.add_application(hub, claire, OCR)).id


@pytest.fixture
async def expenses(hub: Hub, claire: Actor) -> int:
    """A collection-email application whose addresses Relais generates."""
    return (await apps.add_application(hub, claire, Definition(app="collecte-notes-de-frais"))).id


async def folder(sessions: Any, firm_id: int, path: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(Folder.id).where(Folder.firm_id == firm_id, Folder.path == path)
        )
        assert found is not None
        return int(found)


async def dossiers(sessions: Any, firm_id: int, how_many: int = 5) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Dossier.id, Dossier.code)
            .where(Dossier.firm_id == firm_id)
            .order_by(Dossier.code)
            .limit(how_many)
        )
        return [(i, c) for i, c in rows]


async def connections(sessions: Any, app_id: int) -> dict[str, dict[str, Any]]:
    """Per dossier code: the connection's values and its folders' paths."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Connection, Dossier.code)
                .join(Dossier, Dossier.id == Connection.dossier_id)
                .where(Connection.firm_application_id == app_id)
            )
        ).all()
        out: dict[str, dict[str, Any]] = {}
        for connection, code in rows:
            paths = sorted(
                await session.scalars(
                    select(Folder.path)
                    .join(ConnectionFolder, ConnectionFolder.folder_id == Folder.id)
                    .where(ConnectionFolder.connection_id == connection.id)
                )
            )
            out[code] = {
                "code": connection.dossier_code_at_app,
                "email": connection.collection_email,
                "authorized": connection.access_authorized,
                "active": connection.active,
                "folders": paths,
            }
        return out


async def events(sessions: Any, action: str) -> list[AuditEvent]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


# --------------------------------------------------------------------------- step 1


async def test_step_one_suggests_the_folder_of_the_document_type(
    hub: Hub, sessions: Any, claire: Actor, ocr: int, expenses: int
) -> None:
    view = await conn.start(hub, claire, ocr)
    assert view.app.document_type == "purchases" and view.app.method == "api"
    assert view.suggested_id == await folder(sessions, claire.firm_id, "Achats")
    assert [f.path for f in view.folders][:3] == ["Achats", "Achats/2025", "Achats/2026"]
    assert [f.path for f in view.folders if f.suggested] == ["Achats"]
    sales = await apps.add_application(
        hub, claire, Definition(**{**OCR.__dict__, "app": "ocr-ventes"})
    )
    assert (await conn.start(hub, claire, sales.id)).suggested_id == await folder(
        sessions, claire.firm_id, "Ventes"
    )
    email_view = await conn.start(hub, claire, expenses)
    assert email_view.suggested_id is None and email_view.app.generates
    # The base URL is an address literal (127.0.0.1), which is no mail domain.
    assert email_view.app.collect_domain == "collecte.localhost"


async def test_applications_without_a_connection_method_have_no_wizard(
    hub: Hub, claire: Actor
) -> None:
    platform = await apps.add_application(hub, claire, Definition(app="start"))
    with pytest.raises(NotFound) as refused:
        await conn.start(hub, claire, platform.id)
    assert refused.value.key == "connections.error.not_connectable"


async def test_choosing_a_folder_needs_one_and_changes_nothing_by_itself(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await conn.choose_folder(hub, claire, ocr, None)
    assert refused.value.key == "connections.error.no_folder"
    achats = await folder(sessions, claire.firm_id, "Achats")
    done = await conn.choose_folder(hub, claire, ocr, achats)
    assert (done.path, done.added) == ("Achats", 0)
    assert await events(sessions, "connections.folder_applied") == []


# --------------------------------------------------------------------------- one by one


async def test_connect_one_by_one_with_codes_then_update_withdraw_and_disconnect(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    achats = await folder(sessions, claire.firm_id, "Achats")
    (d1, c1), (d2, c2), (d3, _c3) = await dossiers(sessions, claire.firm_id, 3)
    before = utcnow()
    saved = await conn.save(
        hub,
        claire,
        ocr,
        achats,
        [
            conn.Entry(d1, True, " OCR-1 "),
            conn.Entry(d2, True, "OCR-2"),
            conn.Entry(d3, False, ""),  # shown, untouched
        ],
    )
    assert [(o.code, o.action, o.value) for o in saved.outcomes] == [
        (c1, "connected", "OCR-1"),
        (c2, "connected", "OCR-2"),
    ]
    state = await connections(sessions, ocr)
    assert state[c1] == {
        "code": "OCR-1",
        "email": "",
        "authorized": True,
        "active": True,
        "folders": ["Achats"],
    }
    async with sessions() as session:
        stamps = list(await session.scalars(select(ConnectionFolder.connected_at)))
    assert all(abs(s.replace(tzinfo=before.tzinfo) - before) < timedelta(minutes=1) for s in stamps)
    [event] = await events(sessions, "connections.saved")
    assert event.details["connected"] == 2 and event.details["folder"] == "Achats"

    board = await conn.board(hub, claire, ocr, achats, query=c1)
    row = next(r for r in board.page.items if r.code == c1)
    assert (row.state, row.value, row.folders, row.has_folder) == (
        "connected",
        "OCR-1",
        ("Achats",),
        True,
    )
    assert (await conn.start(hub, claire, ocr)).app.connected == 2

    # Saving the page unchanged changes nothing (and writes no audit event).
    again = await conn.save(
        hub, claire, ocr, achats, [conn.Entry(d1, True, "OCR-1"), conn.Entry(d2, True, "OCR-2")]
    )
    assert again.outcomes == []
    assert len(await events(sessions, "connections.saved")) == 1

    # A new code, and the other dossier's access withdrawn.
    changed = await conn.save(
        hub, claire, ocr, achats, [conn.Entry(d1, True, "OCR-1B"), conn.Entry(d2, False, "OCR-2")]
    )
    assert [(o.action, o.value) for o in changed.outcomes] == [
        ("updated", "OCR-1B"),
        ("withdrawn", "OCR-2"),
    ]
    state = await connections(sessions, ocr)
    assert state[c1]["code"] == "OCR-1B" and state[c1]["folders"] == ["Achats"]
    assert state[c2]["authorized"] is False

    done = await conn.disconnect(hub, claire, ocr, d1)
    assert (done.code, done.action) == (c1, "disconnected")
    assert (await connections(sessions, ocr))[c1]["active"] is False
    with pytest.raises(NotFound):
        await conn.disconnect(hub, claire, ocr, d1)
    connected_only = await conn.board(hub, claire, ocr, achats, connected_only=True)
    assert [r.code for r in connected_only.page.items] == [c2]


async def test_a_bad_row_refuses_the_whole_save_with_a_reason_per_row(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    achats = await folder(sessions, claire.firm_id, "Achats")
    (d1, _), (d2, _), (d3, _), (d4, _), (d5, _) = await dossiers(sessions, claire.firm_id, 5)
    with pytest.raises(InvalidInput) as refused:
        await conn.save(
            hub,
            claire,
            ocr,
            achats,
            [
                conn.Entry(d1, True, "GOOD-1"),
                conn.Entry(d2, True, ""),  # ticked, no code
                conn.Entry(d3, False, "TYPED"),  # a code typed, box not ticked
                conn.Entry(d4, True, "SAME"),
                conn.Entry(d5, True, "same"),  # one code for two dossiers
            ],
        )
    assert refused.value.params["problems"] == {
        f"row.{d2}": "connections.error.code_missing",
        f"row.{d3}": "connections.error.tick",
        f"row.{d5}": "connections.error.api_taken",
    }
    assert await connections(sessions, ocr) == {}
    await conn.save(hub, claire, ocr, achats, [conn.Entry(d1, True, "GOOD-1")])
    with pytest.raises(InvalidInput) as taken:
        await conn.save(hub, claire, ocr, achats, [conn.Entry(d2, True, "good-1")])
    assert taken.value.params["problems"] == {f"row.{d2}": "connections.error.api_taken"}


async def test_collection_emails_entered_or_generated_unique_and_copyable(
    hub: Hub, sessions: Any, claire: Actor, expenses: int
) -> None:
    frais = await folder(sessions, claire.firm_id, "Notes de frais")
    rows = await dossiers(sessions, claire.firm_id, 5)
    (d1, c1), (d2, _), (d3, _), (d4, _), (d5, _) = rows
    with pytest.raises(InvalidInput) as refused:
        await conn.save(
            hub,
            claire,
            expenses,
            frais,
            [
                conn.Entry(d1, True, "not-an-email"),
                conn.Entry(d2, True, ""),
                conn.Entry(d3, True, "x@y.fr", generate=True),
            ],
        )
    assert refused.value.params["problems"] == {
        f"row.{d1}": "connections.error.email_invalid",
        f"row.{d2}": "connections.error.email_missing_generate",
        f"row.{d3}": "connections.error.both",
    }
    saved = await conn.save(
        hub,
        claire,
        expenses,
        frais,
        [
            conn.Entry(d1, True, "Frais.Client1@Vendor.example"),
            *(conn.Entry(d, True, "", generate=True) for d in (d2, d3, d4, d5)),
        ],
    )
    by_code = {o.code: o for o in saved.outcomes}
    assert by_code[c1].value == "frais.client1@vendor.example" and not by_code[c1].generated
    generated = [o for o in saved.outcomes if o.generated]
    assert len(generated) == 4
    for o in generated:
        local = re.sub(r"[^a-z0-9]+", "-", o.code.lower()).strip("-")
        assert re.fullmatch(rf"{local}\.[a-z2-9]{{6}}@collecte\.localhost", o.value), o.value
    assert len({o.value for o in generated}) == 4
    # Generating again gives the dossier a new, different address.
    again = await conn.save(hub, claire, expenses, frais, [conn.Entry(d2, True, "", generate=True)])
    [renewed] = again.outcomes
    assert renewed.action == "updated" and renewed.generated
    assert renewed.value != by_code[renewed.code].value
    [event] = (await events(sessions, "connections.saved"))[-1:]
    assert event.details["generated"] == 1


async def test_the_collect_domain_is_a_firm_setting(
    hub: Hub, sessions: Any, claire: Actor, expenses: int
) -> None:
    async with sessions() as session, session.begin():
        app = await session.get(FirmApplication, expenses)
        assert app is not None
        app.specific_fields = {"collect_domain": "collecte.durand-associes.fr"}
    frais = await folder(sessions, claire.firm_id, "Notes de frais")
    [(d1, _)] = await dossiers(sessions, claire.firm_id, 1)
    saved = await conn.save(hub, claire, expenses, frais, [conn.Entry(d1, True, "", True)])
    assert saved.outcomes[0].value.endswith("@collecte.durand-associes.fr")


# --------------------------------------------------------------------------- the template file


def csv_bytes(*lines: str) -> bytes:
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


async def test_the_template_names_the_columns_of_the_application(
    hub: Hub, claire: Actor, ocr: int, expenses: int
) -> None:
    name, body = await conn.template(hub, claire, ocr)
    text = body.decode("utf-8-sig")
    assert name == "relais-connexions-ocr-achats.csv"
    assert text.splitlines()[-1] == "dossier_code;code_at_application"
    assert all(line.startswith("#") for line in text.splitlines()[:-1])
    _, body = await conn.template(hub, claire, expenses)
    assert body.decode("utf-8-sig").splitlines()[-1] == "dossier_code;collection_email"


async def test_import_reports_every_bad_line_and_applies_nothing(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    achats = await folder(sessions, claire.firm_id, "Achats")
    (d1, c1), (_, c2), (_, c3), (_, c4) = await dossiers(sessions, claire.firm_id, 4)
    await conn.save(hub, claire, ocr, achats, [conn.Entry(d1, True, "TAKEN")])
    data = csv_bytes(
        "# a comment line",
        "dossier_code;code_at_application",
        f"{c2};A-2",  # 3: fine
        "NOPE999;A-9",  # 4: unknown dossier
        f"{c2};A-2bis",  # 5: duplicate dossier
        f"{c3};",  # 6: code missing
        ";A-7",  # 7: dossier code missing
        f"{c4};TAKEN",  # 8: code of another dossier
        "",
        f"{c1};A-2",  # 10: a code already on line 3
    )
    with pytest.raises(ImportRejected) as rejected:
        await conn.import_file(hub, claire, ocr, achats, data)
    problems = [(line, getattr(reason, "key", "")) for line, reason in rejected.value.problems]
    assert problems == [
        (4, "connections.reason.unknown_dossier"),
        (5, "connections.reason.duplicate"),
        (6, "connections.reason.code_missing"),
        (7, "connections.reason.dossier_code_missing"),
        (8, "connections.reason.api_taken"),
        (10, "connections.reason.api_duplicate"),
    ]
    assert set(await connections(sessions, ocr)) == {c1}  # nothing more was applied
    assert await events(sessions, "connections.imported") == []


async def test_import_refuses_a_wrong_header_and_an_invalid_email(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    achats = await folder(sessions, claire.firm_id, "Achats")
    with pytest.raises(ImportRejected) as rejected:
        await conn.import_file(
            hub, claire, ocr, achats, csv_bytes("dossier_code;collection_email", "X;a@b.fr")
        )
    keys = [getattr(r, "key", "") for _, r in rejected.value.problems]
    assert keys == ["connections.reason.missing_column", "connections.reason.unknown_column"]
    pre = await apps.add_application(
        hub, claire, Definition(app="pre-compta-email", partner_email="support@vendor.example")
    )
    [(_, c1)] = await dossiers(sessions, claire.firm_id, 1)
    with pytest.raises(ImportRejected) as bad_email:
        await conn.import_file(
            hub,
            claire,
            pre.id,
            achats,
            csv_bytes("dossier_code,collection_email", f"{c1},not-an-email", "NOPE,"),
        )
    assert [(line, getattr(r, "key", "")) for line, r in bad_email.value.problems] == [
        (2, "connections.reason.email_invalid"),
        (3, "connections.reason.unknown_dossier"),
    ]


async def test_a_valid_file_connects_its_dossiers_and_a_second_import_changes_nothing(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    achats = await folder(sessions, claire.firm_id, "Achats")
    (_, c1), (_, c2), (_, c3) = await dossiers(sessions, claire.firm_id, 3)
    data = csv_bytes("dossier_code;code_at_application", f"{c1};A-1", f"{c2};A-2", f"{c3};A-3")
    done = await conn.import_file(hub, claire, ocr, achats, data)
    assert (done.created, done.updated, done.unchanged) == (3, 0, 0)
    assert [(o.code, o.action, o.value) for o in done.outcomes] == [
        (c1, "connected", "A-1"),
        (c2, "connected", "A-2"),
        (c3, "connected", "A-3"),
    ]
    state = await connections(sessions, ocr)
    assert {c: (s["code"], s["folders"]) for c, s in state.items()} == {
        c1: ("A-1", ["Achats"]),
        c2: ("A-2", ["Achats"]),
        c3: ("A-3", ["Achats"]),
    }
    again = await conn.import_file(hub, claire, ocr, achats, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    [event] = await events(sessions, "connections.imported")
    assert event.details["created"] == 3


async def test_an_import_for_generated_addresses_makes_them_or_keeps_them(
    hub: Hub, sessions: Any, claire: Actor, expenses: int
) -> None:
    frais = await folder(sessions, claire.firm_id, "Notes de frais")
    (_, c1), (_, c2) = await dossiers(sessions, claire.firm_id, 2)
    done = await conn.import_file(
        hub, claire, expenses, frais, csv_bytes("dossier_code;collection_email", f"{c1};", f"{c2};")
    )
    assert done.generated == 2
    first = {o.code: o.value for o in done.outcomes}
    again = await conn.import_file(
        hub, claire, expenses, frais, csv_bytes("dossier_code;collection_email", f"{c1};")
    )
    assert again.unchanged == 1 and again.generated == 0
    assert (await connections(sessions, expenses))[c1]["email"] == first[c1]


# --------------------------------------------------------------------------- several folders


async def test_apply_a_second_folder_to_the_dossiers_already_connected(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    achats = await folder(sessions, claire.firm_id, "Achats")
    ventes = await folder(sessions, claire.firm_id, "Ventes")
    rows = await dossiers(sessions, claire.firm_id, 4)
    await conn.save(hub, claire, ocr, achats, [conn.Entry(d, True, f"C-{d}") for d, _ in rows[:3]])
    await conn.disconnect(hub, claire, ocr, rows[2][0])
    applied = await conn.choose_folder(hub, claire, ocr, ventes, apply_to_connected=True)
    assert (applied.path, applied.added) == ("Ventes", 2)
    state = await connections(sessions, ocr)
    assert state[rows[0][1]]["folders"] == ["Achats", "Ventes"]
    assert state[rows[2][1]]["folders"] == ["Achats"]  # disconnected: left alone
    again = await conn.choose_folder(hub, claire, ocr, ventes, apply_to_connected=True)
    assert again.added == 0
    [event, _] = await events(sessions, "connections.folder_applied")
    assert event.details["count"] == 2 and event.details["folder"] == "Ventes"
    # A dossier connected later on Ventes gets Ventes only; "add the folder" adds it to one row.
    await conn.save(hub, claire, ocr, ventes, [conn.Entry(rows[3][0], True, "C-new")])
    assert (await connections(sessions, ocr))[rows[3][1]]["folders"] == ["Ventes"]
    await conn.save(
        hub, claire, ocr, achats, [conn.Entry(rows[3][0], True, "C-new", add_folder=True)]
    )
    assert (await connections(sessions, ocr))[rows[3][1]]["folders"] == ["Achats", "Ventes"]


# --------------------------------------------------------------------------- rights, firms


async def test_collaborators_read_the_connections_but_change_nothing(
    hub: Hub, sessions: Any, claire: Actor, sophie: Actor, ocr: int
) -> None:
    achats = await folder(sessions, claire.firm_id, "Achats")
    [(d1, c1)] = await dossiers(sessions, claire.firm_id, 1)
    await conn.save(hub, claire, ocr, achats, [conn.Entry(d1, True, "X-1")])
    view = await conn.start(hub, sophie, ocr)
    assert not view.can_manage
    board = await conn.board(hub, sophie, ocr, achats, connected_only=True)
    assert not board.can_manage and [r.code for r in board.page.items] == [c1]
    for attempt in (
        conn.choose_folder(hub, sophie, ocr, achats, True),
        conn.save(hub, sophie, ocr, achats, [conn.Entry(d1, True, "HACK")]),
        conn.disconnect(hub, sophie, ocr, d1),
        conn.import_file(hub, sophie, ocr, achats, csv_bytes("dossier_code;code_at_application")),
    ):
        with pytest.raises(PermissionDenied):
            await attempt
    assert (await connections(sessions, ocr))[c1]["code"] == "X-1"


async def test_another_firms_applications_dossiers_and_folders_are_not_found(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    achats = await folder(sessions, claire.firm_id, "Achats")
    [(d1, c1)] = await dossiers(sessions, claire.firm_id, 1)
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
        own_folder = Folder(firm_id=firm.id, name="Achats", path="Achats")
        session.add(own_folder)
        session.add(Dossier(firm_id=firm.id, code=c1, name="Même code, autre cabinet"))
    stranger = await resolve(sessions, "other-tenant", "other-admin")
    own = await apps.add_application(hub, stranger, Definition(**{**OCR.__dict__, "sic_code": ""}))
    for attempt in (
        conn.start(hub, stranger, ocr),
        conn.board(hub, stranger, ocr, achats),
        conn.board(hub, stranger, own.id, achats),
        conn.choose_folder(hub, stranger, ocr, own_folder.id, True),
        conn.choose_folder(hub, stranger, own.id, achats),
        conn.save(hub, stranger, own.id, own_folder.id, [conn.Entry(d1, True, "X")]),
        conn.disconnect(hub, stranger, ocr, d1),
        conn.template(hub, stranger, ocr),
        conn.import_file(hub, stranger, ocr, achats, csv_bytes("dossier_code;code_at_application")),
    ):
        with pytest.raises(NotFound):
            await attempt
    # The other firm's file names its own dossier with the same code: ours is untouched.
    done = await conn.import_file(
        hub,
        stranger,
        own.id,
        own_folder.id,
        csv_bytes("dossier_code;code_at_application", f"{c1};Z"),
    )
    assert done.created == 1
    assert await connections(sessions, ocr) == {}


async def test_a_file_of_3000_dossiers_is_checked_and_applied_quickly(
    hub: Hub, sessions: Any, claire: Actor, ocr: int
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            insert(Dossier),
            [
                {"firm_id": claire.firm_id, "code": f"BULK{i:05d}", "name": f"Bulk {i}"}
                for i in range(3000)
            ],
        )
    achats = await folder(sessions, claire.firm_id, "Achats")
    data = csv_bytes(
        "dossier_code;code_at_application", *(f"BULK{i:05d};AT-{i}" for i in range(3000))
    )
    with statements(hub.sessions) as sent:
        done = await conn.import_file(hub, claire, ocr, achats, data)
    assert done.created == 3000
    assert len(sent) < 50, f"{len(sent)} statements for 3,000 lines"
    async with sessions() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(ConnectionFolder)
                .where(ConnectionFolder.folder_id == achats)
            )
            == 3000
        )
    with statements(hub.sessions) as sent:
        page = await conn.board(hub, claire, ocr, achats, query="bulk0", page=3)
    assert len(page.page.items) == 50 and page.page.items[0].value
    assert len(sent) < 20, f"a page of the board took {len(sent)} statements"

"""CSV imports of staff, dossiers and contacts: the whole file checked first, upserts, idempotence,
defaults on new dossiers, rights, firm isolation and the ``relais import`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.errors import ImportRejected, InvalidInput, PermissionDenied
from hub.identity import Actor, resolve
from hub.imports import (
    MAX_IMPORT_BYTES,
    Reason,
    import_contacts,
    import_dossiers,
    import_file,
    import_staff,
    template,
)
from relais.cli import main
from relais.demo import DEMO_STAFF
from storage.models import (
    AuditEvent,
    CatalogApp,
    Connection,
    Contact,
    ContactDossier,
    Dossier,
    Firm,
    FirmApplication,
    StaffUser,
)
from tests.statements import statements

CLAIRE, MARC, SOPHIE, JAMES = (row[0] for row in DEMO_STAFF)
DOMAIN = "durand-associes.fr"


async def actor(sessions: Any, demo: Any, object_id: str = CLAIRE) -> Actor:
    return await resolve(sessions, demo.tenant_id, object_id)


def csv_bytes(*lines: str, sep: str = ";", bom: bool = False) -> bytes:
    text = "\r\n".join(line.replace(";", sep) for line in lines) + "\r\n"
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def problems_of(error: ImportRejected) -> list[tuple[int, str]]:
    return [(line, reason.key.removeprefix("import.reason.")) for line, reason in error.problems]  # type: ignore[attr-defined]


async def count(sessions: Any, model: Any, **where: Any) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int(await session.scalar(query) or 0)


async def audit_actions(sessions: Any, firm_id: int) -> list[AuditEvent]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.firm_id == firm_id, AuditEvent.action.like("import.%"))
                .order_by(AuditEvent.id)
            )
        )


DOSSIERS_HEADER = "code;name;status;master_email;engagement_manager_email"


# --------------------------------------------------------------------------- dossiers


@pytest.mark.parametrize(
    ("sep", "bom"), [(";", False), (";", True), (",", False), (",", True)], ids=str
)
async def test_dossiers_import_creates_then_is_idempotent(
    hub: Any, sessions: Any, demo: Any, sep: str, bom: bool
) -> None:
    claire = await actor(sessions, demo)
    data = csv_bytes(
        DOSSIERS_HEADER,
        f"NEW001;Boulangerie Neuve SARL;active;claire.durand@{DOMAIN};marc.lefevre@{DOMAIN}",
        f"NEW002;Garage du Port;inactif;sophie.martin@{DOMAIN};",
        sep=sep,
        bom=bom,
    )
    report = await import_dossiers(hub, claire, data)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    async with sessions() as session:
        rows = {
            d.code: d
            for d in await session.scalars(
                select(Dossier).where(Dossier.code.in_(["NEW001", "NEW002"]))
            )
        }
        marc = await session.scalar(
            select(StaffUser).where(StaffUser.email == f"marc.lefevre@{DOMAIN}")
        )
    assert rows["NEW001"].name == "Boulangerie Neuve SARL"
    assert rows["NEW001"].master_id == claire.id
    assert marc is not None and rows["NEW001"].engagement_manager_id == marc.id
    assert rows["NEW002"].status == "inactive"
    assert rows["NEW002"].engagement_manager_id is None

    again = await import_dossiers(hub, claire, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    events = await audit_actions(sessions, demo.firm_id)
    assert [(e.action, e.details["created"], e.details["updated"]) for e in events] == [
        ("import.dossiers", 2, 0)
    ], "re-importing the same file writes no audit event"


async def test_dossiers_import_updates_existing_and_keeps_absent_columns(
    hub: Any, sessions: Any, demo: Any
) -> None:
    claire = await actor(sessions, demo)
    async with sessions() as session:
        existing = await session.scalar(
            select(Dossier).where(Dossier.firm_id == demo.firm_id).order_by(Dossier.code).limit(1)
        )
        assert existing is not None
        code, master = existing.code, existing.master_id
    report = await import_dossiers(
        hub, claire, csv_bytes("code,name", f"{code},Nouveau nom", "ZZZ999,Zèbre & Cie", sep=",")
    )
    assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
    async with sessions() as session:
        updated = await session.scalar(
            select(Dossier).where(Dossier.firm_id == demo.firm_id, Dossier.code == code)
        )
    assert updated is not None
    assert updated.name == "Nouveau nom"
    assert updated.master_id == master, "a column left out of the file keeps its value"


async def test_every_bad_dossier_line_is_reported_and_nothing_is_applied(
    hub: Any, sessions: Any, demo: Any
) -> None:
    claire = await actor(sessions, demo)
    before = await count(sessions, Dossier, firm_id=demo.firm_id)
    data = csv_bytes(
        "# a comment line, ignored",
        DOSSIERS_HEADER,
        f"OK001;Bonne ligne;active;claire.durand@{DOMAIN};",  # line 3: fine
        "DUP001;Premier;active;;",  # line 4
        "DUP001;Doublon;active;;",  # line 5: duplicate code
        "BAD001;Statut;ferme;;",  # line 6: bad status
        f"BAD002;Maître inconnu;active;nobody@{DOMAIN};",  # line 7: unknown master
        "BAD003;Email invalide;active;;not-an-email",  # line 8: invalid email
        ";Sans code;active;;",  # line 9: missing code
        "BAD005;;active;;",  # line 10: missing name
        "",
        "BAD 006;Espace;active;;",  # line 12: bad code
    )
    with pytest.raises(ImportRejected) as caught:
        await import_dossiers(hub, claire, data)
    assert problems_of(caught.value) == [
        (5, "duplicate_code"),
        (6, "bad_status"),
        (7, "unknown_staff"),
        (8, "invalid_email"),
        (9, "required"),
        (10, "required"),
        (12, "bad_code"),
    ]
    reason = dict(caught.value.problems)[7]
    assert isinstance(reason, Reason)
    assert reason.values == {"column": "master_email", "value": f"nobody@{DOMAIN}"}
    assert "nobody@" in str(reason)  # readable as it is on a terminal
    assert await count(sessions, Dossier, firm_id=demo.firm_id) == before
    assert await count(sessions, Dossier, code="OK001") == 0
    assert await audit_actions(sessions, demo.firm_id) == []


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("name;status", "X;active"), [(1, "missing_column")]),
        (("code;name;colour", "X;Y;blue"), [(1, "unknown_column")]),
        (("code;name;name", "X;Y;Z"), [(1, "duplicate_column")]),
        (("# only comments",), [(1, "no_header")]),
        (("code;name", "X;Y;extra;cells"), [(2, "too_many_cells")]),
    ],
    ids=["missing", "unknown", "twice", "empty", "too-many"],
)
async def test_header_problems(
    hub: Any, sessions: Any, demo: Any, lines: tuple[str, ...], expected: list[Any]
) -> None:
    with pytest.raises(ImportRejected) as caught:
        await import_dossiers(hub, await actor(sessions, demo), csv_bytes(*lines))
    assert problems_of(caught.value) == expected


async def test_not_utf8_and_oversize_files_are_refused(hub: Any, sessions: Any, demo: Any) -> None:
    claire = await actor(sessions, demo)
    with pytest.raises(ImportRejected) as caught:
        await import_dossiers(hub, claire, "code;name\nX;Café".encode("latin-1"))
    assert problems_of(caught.value) == [(2, "not_utf8")]
    with pytest.raises(InvalidInput) as too_big:
        await import_dossiers(hub, claire, b"code;name\n" + b"x" * MAX_IMPORT_BYTES)
    assert too_big.value.key == "import.too_large"


async def test_new_dossiers_get_the_firms_default_applications(
    hub: Any, sessions: Any, demo: Any
) -> None:
    async with sessions() as session, session.begin():
        app = await session.scalar(
            select(CatalogApp).where(CatalogApp.needs_contact.is_(False)).limit(1)
        )
        assert app is not None
        default = FirmApplication(firm_id=demo.firm_id, catalog_app_id=app.id, is_default=True)
        session.add(default)
        await session.flush()
        default_id = default.id
    claire = await actor(sessions, demo)
    await import_dossiers(hub, claire, csv_bytes("code;name", "DEF001;Un", "DEF002;Deux"))
    async with sessions() as session:
        linked = set(
            await session.scalars(
                select(Dossier.code)
                .join(Connection, Connection.dossier_id == Dossier.id)
                .where(Connection.firm_application_id == default_id)
            )
        )
    assert linked == {"DEF001", "DEF002"}
    # Updating an existing dossier does not attach again (the unique constraint would refuse).
    await import_dossiers(hub, claire, csv_bytes("code;name", "DEF001;Un renommé"))
    assert await count(sessions, Connection, firm_application_id=default_id) == 2


async def test_ten_thousand_dossiers_import_quickly(hub: Any, sessions: Any, demo: Any) -> None:
    claire = await actor(sessions, demo)
    lines = [DOSSIERS_HEADER] + [
        f"BULK{i:05d};Société {i};active;claire.durand@{DOMAIN};marc.lefevre@{DOMAIN}"
        for i in range(10_000)
    ]
    data = csv_bytes(*lines)
    with statements(hub.sessions) as sent:
        report = await import_dossiers(hub, claire, data)
    assert report.created == 10_000
    # In bulk, not a statement per line (bench/bulk.py measures the time: well under 2 s).
    assert len(sent) < 50, f"10,000 dossiers took {len(sent)} statements"
    again = await import_dossiers(hub, claire, data)
    assert again.unchanged == 10_000


# --------------------------------------------------------------------------- staff


STAFF_HEADER = "email;display_name;role;rights_manager;entra_object_id"
NEW_OID = "b0000000-0000-4000-8000-000000000001"


async def test_staff_import_creates_updates_and_is_idempotent(
    hub: Any, sessions: Any, demo: Any
) -> None:
    claire = await actor(sessions, demo)
    data = csv_bytes(
        STAFF_HEADER,
        f"Nina.Roux@{DOMAIN};Nina Roux;collaborateur;oui;{NEW_OID}",
        f"sophie.martin@{DOMAIN};Sophie Martin;collaborator;yes;",
    )
    report = await import_staff(hub, claire, data)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
    async with sessions() as session:
        nina = await session.scalar(
            select(StaffUser).where(StaffUser.email == f"nina.roux@{DOMAIN}")
        )
        sophie = await session.scalar(
            select(StaffUser).where(StaffUser.email == f"sophie.martin@{DOMAIN}")
        )
    assert nina is not None and nina.rights_manager and nina.role == "collaborator"
    assert nina.entra_object_id == NEW_OID and nina.firm_id == demo.firm_id
    assert sophie is not None and sophie.rights_manager
    assert sophie.entra_object_id == SOPHIE, "an empty object id keeps the known one"
    again = await import_staff(hub, claire, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


async def test_every_bad_staff_line_is_reported(hub: Any, sessions: Any, demo: Any) -> None:
    claire = await actor(sessions, demo)
    data = csv_bytes(
        STAFF_HEADER,
        f"a@{DOMAIN};A;chef;non;{NEW_OID}",  # 2 bad role
        f"b@{DOMAIN};B;collaborator;peut-être;b0000000-0000-4000-8000-000000000002",  # 3 bad flag
        f"c@{DOMAIN};C;collaborator;non;not-a-guid",  # 4 bad object id
        f"d@{DOMAIN};D;collaborator;non;",  # 5 new without object id
        f"e@{DOMAIN};E;collaborator;non;{CLAIRE}",  # 6 object id of Claire
        f"x@{DOMAIN};;collaborator;non;b0000000-0000-4000-8000-000000000003",  # 7 no name
        f"claire.durand@{DOMAIN};Claire Durand;collaborator;non;",  # 8 last administrator
        f"f@{DOMAIN};F;collaborator;non;b0000000-0000-4000-8000-000000000004",
        f"F@{DOMAIN};F bis;collaborator;non;b0000000-0000-4000-8000-000000000005",  # 10 duplicate
    )
    with pytest.raises(ImportRejected) as caught:
        await import_staff(hub, claire, data)
    assert problems_of(caught.value) == [
        (2, "bad_role"),
        (3, "bad_flag"),
        (4, "bad_object_id"),
        (5, "object_id_required"),
        (6, "object_id_taken"),
        (7, "required"),
        (8, "last_admin"),
        (10, "duplicate_email"),
    ]
    assert await count(sessions, StaffUser, firm_id=demo.firm_id) == 4


# --------------------------------------------------------------------------- contacts


CONTACTS_HEADER = "first_name;last_name;email;phone;dossier_codes"


async def _two_codes(sessions: Any, firm_id: int) -> list[str]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(Dossier.code)
                .where(Dossier.firm_id == firm_id)
                .order_by(Dossier.code)
                .limit(2)
            )
        )


async def test_contacts_import_links_dossiers_and_is_idempotent(
    hub: Any, sessions: Any, demo: Any
) -> None:
    claire = await actor(sessions, demo)
    one, two = await _two_codes(sessions, demo.firm_id)
    data = csv_bytes(
        CONTACTS_HEADER,
        f"Julie;Bernard;Julie.Bernard@client.fr;+33 6 12 34 56 78;{one}|{two}",
        "Paul;Petit;paul.petit@client.fr;;",
    )
    report = await import_contacts(hub, claire, data)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    async with sessions() as session:
        julie = await session.scalar(
            select(Contact).where(Contact.email == "julie.bernard@client.fr")
        )
        assert julie is not None
        codes = set(
            await session.scalars(
                select(Dossier.code)
                .join(ContactDossier, ContactDossier.dossier_id == Dossier.id)
                .where(ContactDossier.contact_id == julie.id)
            )
        )
    assert julie.display_name == "Julie Bernard" and julie.phone == "+33 6 12 34 56 78"
    assert codes == {one, two}
    again = await import_contacts(hub, claire, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    # A new link is an update; the existing links are kept.
    more = await import_contacts(
        hub, claire, csv_bytes("email;dossier_codes", f"paul.petit@client.fr;{one}")
    )
    assert (more.created, more.updated, more.unchanged) == (0, 1, 0)
    assert await count(sessions, ContactDossier, firm_id=demo.firm_id) >= 3


async def test_every_bad_contact_line_is_reported(hub: Any, sessions: Any, demo: Any) -> None:
    claire = await actor(sessions, demo)
    one, _ = await _two_codes(sessions, demo.firm_id)
    before = await count(sessions, Contact, firm_id=demo.firm_id)
    data = csv_bytes(
        CONTACTS_HEADER,
        f"A;A;a@client.fr;;{one}",
        "B;B;b@client;;",  # 3 invalid email
        f"C;C;c@client.fr;;{one}|NOPE404",  # 4 unknown dossier code
        "D;D;d@client.fr;call me;",  # 5 bad phone
        "E;E;;;",  # 6 no email
        "A2;A2;A@client.fr;;",  # 7 duplicate email
    )
    with pytest.raises(ImportRejected) as caught:
        await import_contacts(hub, claire, data)
    assert problems_of(caught.value) == [
        (3, "invalid_email"),
        (4, "unknown_dossier"),
        (5, "bad_phone"),
        (6, "required"),
        (7, "duplicate_email"),
    ]
    assert await count(sessions, Contact, firm_id=demo.firm_id) == before


# --------------------------------------------------------------------------- rights and firms


@pytest.mark.parametrize("kind", ["staff", "dossiers", "contacts"])
@pytest.mark.parametrize("who", [MARC, JAMES], ids=["rights-manager", "collaborator"])
async def test_only_administrators_import(
    hub: Any, sessions: Any, demo: Any, kind: str, who: str
) -> None:
    with pytest.raises(PermissionDenied):
        await import_file(hub, await actor(sessions, demo, who), kind, template(kind))


async def test_templates_import_as_empty_files(hub: Any, sessions: Any, demo: Any) -> None:
    claire = await actor(sessions, demo)
    for kind in ("staff", "dossiers", "contacts"):
        data = template(kind)
        assert data.startswith("\ufeff".encode())
        report = await import_file(hub, claire, kind, data)
        assert report.total == 0


async def _second_firm(sessions: Any) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        firm = Firm(name="Cabinet Bis", tenant_id="22222222-2222-4222-8222-222222222222")
        session.add(firm)
        await session.flush()
        boss = StaffUser(
            firm_id=firm.id,
            entra_object_id="e0000000-0000-4000-8000-000000000001",
            email="boss@bis.fr",
            display_name="Boss Bis",
            role="administrator",
        )
        session.add(boss)
        await session.flush()
        session.add(Dossier(firm_id=firm.id, code="SAME001", name="Dossier de B"))
        return firm.id, boss.id


async def test_firm_a_import_never_touches_firm_b(hub: Any, sessions: Any, demo: Any) -> None:
    firm_b, _ = await _second_firm(sessions)
    claire = await actor(sessions, demo)
    # Firm B's staff are unknown to firm A, even by email.
    with pytest.raises(ImportRejected) as caught:
        await import_dossiers(
            hub, claire, csv_bytes("code;name;master_email", "SAME001;Dossier de A;boss@bis.fr")
        )
    assert problems_of(caught.value) == [(2, "unknown_staff")]
    report = await import_dossiers(hub, claire, csv_bytes("code;name", "SAME001;Dossier de A"))
    assert report.created == 1, "the same code in another firm is another dossier"
    with pytest.raises(ImportRejected):
        await import_contacts(hub, claire, csv_bytes("email;dossier_codes", "x@y.fr;NOT_MINE"))
    async with sessions() as session:
        names = dict(
            (row.firm_id, row.name)
            for row in await session.execute(
                select(Dossier.firm_id, Dossier.name).where(Dossier.code == "SAME001")
            )
        )
    assert names == {firm_b: "Dossier de B", demo.firm_id: "Dossier de A"}
    assert await audit_actions(sessions, firm_b) == []


# --------------------------------------------------------------------------- the command line


def test_relais_import_command(
    tmp_path: Path, settings: Any, demo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("RELAIS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RELAIS_ENCRYPTION_KEY", settings.encryption_key.get_secret_value())
    good = tmp_path / "dossiers.csv"
    good.write_bytes(csv_bytes("code;name", "CLI001;Par la ligne de commande"))
    main(["import", "dossiers", str(good)])
    assert "1 created, 0 updated, 0 unchanged" in capsys.readouterr().out
    main(["import", "dossiers", str(good), "--tenant", demo.tenant_id])
    assert "0 created, 0 updated, 1 unchanged" in capsys.readouterr().out

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes("code;name", "CLI002;", "CLI003;Trois;fermé"))
    with pytest.raises(SystemExit) as exit_code:
        main(["import", "dossiers", str(bad)])
    assert exit_code.value.code == 2
    err = capsys.readouterr().err
    assert "line 2: name is required" in err
    assert "line 3:" in err

    with pytest.raises(SystemExit):
        main(["import", "dossiers", str(good), "--tenant", "no-such-tenant"])
    assert "no-such-tenant" in capsys.readouterr().err


async def test_a_line_with_a_nul_or_another_control_character_is_a_bad_line(
    hub: Any, sessions: Any, demo: Any
) -> None:
    """Invisible in Excel, and PostgreSQL cannot store NUL: the line is reported, not a crash."""
    before = await count(sessions, Dossier, firm_id=demo.firm_id)
    data = csv_bytes(
        DOSSIERS_HEADER,
        "OK001;Bonne ligne;active;;",
        "NUL001;Cabinet\x00Dupont;active;;",  # line 3
        "BEL001;Sonnerie\x07;active;;",  # line 4
        "TAB001;Avec\ttabulation;active;;",  # a tab is fine
    )
    with pytest.raises(ImportRejected) as caught:
        await import_dossiers(hub, await actor(sessions, demo), data)
    assert problems_of(caught.value) == [(3, "control_character"), (4, "control_character")]
    assert dict(caught.value.problems)[3].values == {"column": "name"}  # type: ignore[attr-defined]
    assert await count(sessions, Dossier, firm_id=demo.firm_id) == before


def test_relais_import_reports_a_line_with_a_nul(
    tmp_path: Path, settings: Any, demo: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.setenv("RELAIS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RELAIS_ENCRYPTION_KEY", "test-encryption-key")
    path = tmp_path / "dossiers.csv"
    path.write_bytes(csv_bytes("code;name", "NUL001;Cabinet\x00Dupont"))
    with pytest.raises(SystemExit):
        main(["import", "dossiers", str(path)])
    assert "line 2: an invisible control character in name" in capsys.readouterr().err

"""The Team, Imports and Audit pages as a person meets them, through the real app."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from relais.demo import DEMO_STAFF
from storage.models import AuditEvent, Dossier, Firm, StaffUser
from tests.admin.conftest import CLAIRE, JAMES, Client, csrf_of, visible

MARC = DEMO_STAFF[1][0]  # collaborator, rights manager
DOMAIN = "durand-associes.fr"


async def staff_id(sessions: Any, email: str) -> int:
    async with sessions() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
        assert user is not None
        return user.id


async def staff(sessions: Any, email: str) -> StaffUser:
    async with sessions() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
        assert user is not None
        return user


def upload(csrf: str, content: bytes, name: str = "file.csv") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("file", content, filename=name, content_type="text/csv")
    return form


# --------------------------------------------------------------------------- team


async def test_team_page_lists_staff_with_roles_and_edit_forms_for_admins(
    client: Client, signed_in: Any
) -> None:
    await signed_in(CLAIRE)
    page = await (await client.get("/admin/team")).text()
    text = visible(page)
    assert "Équipe" in text
    assert "Marc Lefèvre marc.lefevre@durand-associes.fr Rôle de Marc Lefèvre" in text
    assert "Gestionnaire des droits : Marc Lefèvre Oui Actif Enregistrer" in text
    assert "Claire Durand (vous) claire.durand@durand-associes.fr" in text
    assert "Importer des collaborateurs" in text
    assert page.count('name="rights_manager"') == 4
    assert 'aria-current="page"' in page and 'href="/admin/team" aria-current="page"' in page


async def test_team_search_and_too_short_search(client: Client, signed_in: Any) -> None:
    await signed_in(CLAIRE)
    text = visible(await (await client.get("/admin/team", params={"q": "lefè"})).text())
    assert "Marc Lefèvre" in text and "Sophie Martin" not in text
    assert "1 collaborateur(s)" in text
    text = visible(await (await client.get("/admin/team", params={"q": "ma"})).text())
    assert "Sophie Martin" in text  # everyone, and a word beside the field
    assert "Aucun collaborateur" not in text


async def test_admin_toggles_rights_manager_and_role_with_audit(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    page = await signed_in(CLAIRE)
    marc = await staff_id(sessions, f"marc.lefevre@{DOMAIN}")
    response = await client.post(
        f"/admin/team/{marc}", data={"csrf_token": csrf_of(page), "role": "collaborator"}
    )
    assert response.status == 200 and response.url.path == "/admin/team"
    text = visible(await response.text())
    assert "Modifications enregistrées pour Marc Lefèvre." in text
    assert "Gestionnaire des droits : Marc Lefèvre Non Actif" in text
    assert not (await staff(sessions, f"marc.lefevre@{DOMAIN}")).rights_manager

    sophie = await staff_id(sessions, f"sophie.martin@{DOMAIN}")
    await client.post(
        f"/admin/team/{sophie}",
        data={"csrf_token": csrf_of(page), "role": "administrator", "rights_manager": "on"},
    )
    user = await staff(sessions, f"sophie.martin@{DOMAIN}")
    assert user.role == "administrator" and user.rights_manager
    audit = visible(await (await client.get("/admin/audit")).text())
    assert (
        "A modifié Sophie Martin : rôle Collaborateur → Administrateur, ajouté aux gestionnaires des droits"
        in audit
    )
    assert "A modifié Marc Lefèvre : retiré des gestionnaires des droits" in audit


async def test_last_administrator_cannot_be_demoted(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    page = await signed_in(CLAIRE)
    claire = await staff_id(sessions, f"claire.durand@{DOMAIN}")
    response = await client.post(
        f"/admin/team/{claire}", data={"csrf_token": csrf_of(page), "role": "collaborator"}
    )
    assert response.status == 409
    assert "Claire Durand est le dernier administrateur du cabinet" in visible(
        await response.text()
    )
    assert (await staff(sessions, f"claire.durand@{DOMAIN}")).role == "administrator"


@pytest.mark.parametrize("who", [MARC, JAMES], ids=["rights-manager", "collaborator"])
async def test_non_admins_see_read_only_team_and_forged_posts_are_refused(
    client: Client, signed_in: Any, sessions: Any, who: str
) -> None:
    page = await signed_in(who)
    team = await (await client.get("/admin/team")).text()
    assert 'name="rights_manager"' not in team
    assert "/admin/imports/staff" not in team
    sophie = await staff_id(sessions, f"sophie.martin@{DOMAIN}")
    response = await client.post(
        f"/admin/team/{sophie}",
        data={"csrf_token": csrf_of(page), "role": "administrator", "rights_manager": "on"},
    )
    assert response.status == 403
    user = await staff(sessions, f"sophie.martin@{DOMAIN}")
    assert user.role == "collaborator" and not user.rights_manager
    response = await client.post(
        "/admin/imports/dossiers", data=upload(csrf_of(page), b"code;name\nFORGED1;X\n")
    )
    assert response.status == 403
    async with sessions() as session:
        assert await session.scalar(select(Dossier).where(Dossier.code == "FORGED1")) is None


async def test_team_post_without_csrf_is_refused(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    await signed_in(CLAIRE)
    marc = await staff_id(sessions, f"marc.lefevre@{DOMAIN}")
    response = await client.post(f"/admin/team/{marc}", data={"role": "administrator"})
    assert response.status == 403
    assert (await staff(sessions, f"marc.lefevre@{DOMAIN}")).role == "collaborator"


async def test_a_person_of_another_firm_is_not_found(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    async with sessions() as session, session.begin():
        firm = Firm(name="Cabinet Bis", tenant_id="22222222-2222-4222-8222-222222222222")
        session.add(firm)
        await session.flush()
        other = StaffUser(
            firm_id=firm.id,
            entra_object_id="e0000000-0000-4000-8000-000000000001",
            email="boss@bis.fr",
            display_name="Boss Bis",
            role="collaborator",
        )
        session.add(other)
        await session.flush()
        other_id = other.id
    page = await signed_in(CLAIRE)
    assert "Boss Bis" not in visible(await (await client.get("/admin/team?q=boss")).text())
    response = await client.post(
        f"/admin/team/{other_id}", data={"csrf_token": csrf_of(page), "role": "administrator"}
    )
    assert response.status == 404
    assert (await staff(sessions, "boss@bis.fr")).role == "collaborator"


# --------------------------------------------------------------------------- imports


@pytest.mark.parametrize("kind", ["staff", "dossiers", "contacts"])
async def test_templates_download_as_csv(client: Client, signed_in: Any, kind: str) -> None:
    await signed_in(JAMES)  # reading the format is for everyone
    response = await client.get(f"/admin/imports/{kind}/template.csv")
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert f'filename="relais-{kind}.csv"' in response.headers["Content-Disposition"]
    body = await response.read()
    assert body.startswith("\ufeff".encode())
    assert (
        body.decode("utf-8-sig")
        .splitlines()[-1]
        .startswith({"staff": "email;", "dossiers": "code;", "contacts": "first_name;"}[kind])
    )


async def test_import_pages_document_columns_in_both_languages(
    client: Client, signed_in: Any
) -> None:
    page = await signed_in(CLAIRE)
    text = visible(await (await client.get("/admin/imports")).text())
    assert "Collaborateurs" in text and "Dossiers clients" in text and "Interlocuteurs" in text
    text = visible(await (await client.get("/admin/imports/dossiers")).text())
    assert "Importer des dossiers clients" in text
    assert "master_email obligatoire" not in text and "master_email facultative" in text
    assert "code obligatoire" in text
    await client.post(
        "/admin/language",
        data={"csrf_token": csrf_of(page), "lang": "en", "next": "/admin/imports/contacts"},
    )
    text = visible(await (await client.get("/admin/imports/contacts")).text())
    assert "Import contacts" in text and "dossier_codes optional" in text
    assert (await client.get("/admin/imports/nothing")).status == 404


async def test_upload_bad_file_lists_lines_then_good_file_shows_counts(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    page = await signed_in(CLAIRE)
    bad = (
        "code;name;status;master_email\n"
        "UP001;Bonne;active;\n"
        "UP002;Mauvais statut;fermé;\n"
        "UP003;Maître inconnu;active;nobody@nowhere.fr\n"
    ).encode()
    response = await client.post(
        "/admin/imports/dossiers", data=upload(csrf_of(page), bad, "d.csv")
    )
    assert response.status == 400
    text = visible(await response.text())
    assert "Fichier refusé : rien n'a été modifié" in text
    assert "2 ligne(s) de d.csv posent problème" in text
    assert "3 statut inconnu : « fermé » (active, inactive ou archived)" in text
    assert "4 nobody@nowhere.fr (master_email) n'est pas un collaborateur actif du cabinet" in text
    async with sessions() as session:
        assert await session.scalar(select(Dossier).where(Dossier.code == "UP001")) is None

    good = b"code;name\nUP001;Bonne\nUP002;Deux\n"
    response = await client.post("/admin/imports/dossiers", data=upload(csrf_of(page), good))
    assert response.status == 200
    text = visible(await response.text())
    assert "Import terminé : 2 créé(s), 0 mis à jour, 0 inchangé(s)." in text
    response = await client.post("/admin/imports/dossiers", data=upload(csrf_of(page), good))
    assert "0 créé(s), 0 mis à jour, 2 inchangé(s)" in visible(await response.text())


async def test_upload_without_file_or_too_large(client: Client, signed_in: Any) -> None:
    page = await signed_in(CLAIRE)
    response = await client.post("/admin/imports/staff", data={"csrf_token": csrf_of(page)})
    assert response.status == 400
    assert "Choisissez un fichier CSV à importer." in visible(await response.text())
    big = b"email;display_name\n" + b"x" * (10 * 1024 * 1024 + 1)
    response = await client.post("/admin/imports/staff", data=upload(csrf_of(page), big))
    assert response.status == 400
    assert "Ce fichier dépasse 10 Mo" in visible(await response.text())


async def test_upload_without_csrf_is_refused(client: Client, signed_in: Any) -> None:
    await signed_in(CLAIRE)
    form = aiohttp.FormData()
    form.add_field("file", b"code;name\nNOCSRF;X\n", filename="f.csv")
    assert (await client.post("/admin/imports/dossiers", data=form)).status == 403


# --------------------------------------------------------------------------- audit


async def _events(sessions: Any, firm_id: int, count: int, actor: str, action: str) -> None:
    async with sessions() as session, session.begin():
        for i in range(count):
            session.add(
                AuditEvent(
                    firm_id=firm_id,
                    actor=actor,
                    action=action,
                    target_type="dossier",
                    target_id=str(i),
                )
            )


async def test_audit_page_filters_and_keyset_pages(
    client: Client, signed_in: Any, sessions: Any, demo: Any
) -> None:
    claire = await staff_id(sessions, f"claire.durand@{DOMAIN}")
    await _events(sessions, demo.firm_id, 120, f"staff:{claire}", "test.bulk")
    await signed_in(CLAIRE)
    page = await (await client.get("/admin/audit", params={"action": "test.bulk"})).text()
    assert page.count("<code>test.bulk</code>") == 50
    assert "Plus anciens" in visible(page) and "Plus récents" not in visible(page)
    seen = 50
    older = re.search(r'href="([^"]+)" rel="next"', page)
    while older:
        page = await (await client.get(older.group(1).replace("&amp;", "&"))).text()
        seen += page.count("<code>test.bulk</code>")
        assert "Plus récents" in visible(page)
        older = re.search(r'href="([^"]+)" rel="next"', page)
    assert seen == 120
    newer = re.search(r'href="([^"]+)" rel="prev"', page)
    assert newer is not None
    back = await (await client.get(newer.group(1).replace("&amp;", "&"))).text()
    assert back.count("<code>test.bulk</code>") == 50

    page = await (await client.get("/admin/audit", params={"actor": "system"})).text()
    assert "A créé le cabinet de démonstration" in visible(page)
    assert "<code>test.bulk</code>" not in page
    # Names, not references, in the actor filter and the rows.
    page = await (await client.get("/admin/audit")).text()
    assert f'<option value="staff:{claire}">Claire Durand</option>' in page
    assert "staff:" not in visible(page)
    text = visible(
        await (
            await client.get("/admin/audit", params={"since": "2000-01-01", "until": "2000-01-02"})
        ).text()
    )
    assert "Aucun événement ne correspond à ces filtres." in text
    bad = await client.get("/admin/audit", params={"since": "yesterday"})
    assert bad.status == 400
    assert "AAAA-MM-JJ" in visible(await bad.text())


async def test_collaborator_sees_only_own_events_and_never_another_firm(
    client: Client, signed_in: Any, sessions: Any, demo: Any
) -> None:
    claire = await staff_id(sessions, f"claire.durand@{DOMAIN}")
    async with sessions() as session, session.begin():
        firm = Firm(name="Cabinet Bis", tenant_id="22222222-2222-4222-8222-222222222222")
        session.add(firm)
        await session.flush()
        firm_b = firm.id
    await _events(sessions, firm_b, 3, f"staff:{claire}", "other.firm")
    await _events(sessions, demo.firm_id, 2, f"staff:{claire}", "claire.only")
    await signed_in(JAMES)
    page = await (await client.get("/admin/audit")).text()
    text = visible(page)
    assert "You see only your own actions." in text
    assert "Signed in to the admin panel" in text
    assert "claire.only" not in page and "other.firm" not in page
    # Asking for someone else's events still shows only one's own.
    page = await (await client.get("/admin/audit", params={"actor": f"staff:{claire}"})).text()
    assert "claire.only" not in page and "Signed in to the admin panel" in visible(page)
    await client.post("/admin/logout", data={"csrf_token": csrf_of(page)})
    await signed_in(CLAIRE)
    page = await (await client.get("/admin/audit")).text()
    assert "<code>claire.only</code>" in page and "other.firm" not in page

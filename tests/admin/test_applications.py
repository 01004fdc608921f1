"""The Applications tab as a person meets it in the panel: the list, the wizard, edit and delete,
refusals, in French and English."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from hub import applications as apps
from hub.applications import Definition, Selection
from hub.identity import resolve
from hub.settings import Settings
from relais.demo import DEMO_TENANT_ID
from relais.services import build_services
from storage.models import ApplicationDraft, Connection, Firm, FirmApplication
from tests.admin.conftest import CLAIRE, JAMES, Client, csrf_of, visible

SECRET = "s3cret-never-shown"
JURIDIQUE_FORM = {
    "kind": "partner",
    "app": "juridique",
    "api_key_id": "KEY-123",
    "secret": SECRET,
    "api_url": "https://api.example.test/v1",
    "field.legal_domain": "cabinet-durand",
    "sic_code": "SIC-75001",
}


async def count(sessions: Any, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def page_of(client: Client, path: str) -> tuple[int, str]:
    response = await client.get(path)
    return response.status, await response.text()


async def start_wizard(client: Client, form: dict[str, str] | None = None) -> str:
    """Step 1 posted; the path of the page it led to."""
    _, page = await page_of(client, "/admin/applications/new?kind=partner&app=juridique")
    response = await client.post(
        "/admin/applications/new", data={"csrf_token": csrf_of(page), **(form or JURIDIQUE_FORM)}
    )
    assert response.status == 200, visible(await response.text())
    return response.url.path


async def test_an_administrator_sees_the_list_the_add_button_and_the_unused_apps(
    client: Client, signed_in: Any
) -> None:
    text = visible(await signed_in(CLAIRE))
    assert "Ajouter une application" in text
    assert "Rien pour l'instant" in text  # no application yet
    assert "Applications non utilisées" in text
    for label in ("Start", "Gestion juridique", "OCR Factures — Achats", "Pilotage du cabinet"):
        assert label in text


async def test_a_collaborator_sees_the_list_read_only(
    client: Client, signed_in: Any, settings: Settings, sessions: Any
) -> None:
    hub = build_services(settings, sessions)
    claire = await resolve(sessions, DEMO_TENANT_ID, CLAIRE)
    await apps.add_application(
        hub, claire, Definition(app="pilotage-cabinet", api_key_id="PIL-9", sic_code="SIC-69002")
    )
    page = await signed_in(JAMES)
    text = visible(page)
    assert "Only the firm's administrators can add, edit or delete applications" in text
    assert "Pilotage du cabinet" in text and "PIL-9" in text and "Firm" in text
    assert "Add an application" not in text
    assert "/admin/applications/new" not in page
    assert "Edit" not in text and "Delete" not in text


async def test_a_forged_post_from_a_collaborator_is_refused_and_changes_nothing(
    client: Client, signed_in: Any, settings: Settings, sessions: Any
) -> None:
    hub = build_services(settings, sessions)
    claire = await resolve(sessions, DEMO_TENANT_ID, CLAIRE)
    kept = await apps.add_application(hub, claire, Definition(app="start"))
    page = await signed_in(JAMES)
    token = csrf_of(page)

    response = await client.post(
        "/admin/applications/new", data={"csrf_token": token, **JURIDIQUE_FORM}
    )
    assert response.status == 403
    assert "Only the firm's administrators can do this." in visible(await response.text())
    response = await client.post(
        f"/admin/applications/{kept.id}/delete", data={"csrf_token": token}
    )
    assert response.status == 403
    response = await client.post(
        f"/admin/applications/{kept.id}/edit", data={"csrf_token": token, "api_key_id": "X"}
    )
    assert response.status == 403
    status, _ = await page_of(client, "/admin/applications/new")
    assert status == 403
    assert await count(sessions, FirmApplication) == 1
    assert await count(sessions, ApplicationDraft) == 0


async def test_step_one_shows_the_description_and_the_fields_of_the_chosen_app(
    client: Client, signed_in: Any
) -> None:
    await signed_in(CLAIRE)
    status, page = await page_of(client, "/admin/applications/new?kind=partner")
    text = visible(page)
    assert status == 200
    assert "Définition de l'application" in text and "5 disponibles" in text
    assert "Gestion juridique" in text and "Identifiant de la clé d'API" not in text

    _, page = await page_of(client, "/admin/applications/new?kind=partner&app=juridique")
    text = visible(page)
    assert "Approbation des comptes, assemblées et registres à partir des liasses." in text
    for label in ("Identifiant de la clé d'API", "Secret de la clé d'API", "URL de l'API"):
        assert label in text
    assert "Domaine juridique" in text and 'data-pattern="^[A-Za-z0-9-]{3,40}$"' in page
    assert "Code SIC" in text and "SIC-69002" in text
    assert "E-mail partenaire" not in text

    # A collection-email app asks for the partner email and no key.
    _, page = await page_of(client, "/admin/applications/new?kind=partner&app=pre-compta-email")
    text = visible(page)
    assert "E-mail partenaire" in text and "Identifiant de la clé d'API" not in text


async def test_step_one_rerenders_with_a_message_per_field(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    await signed_in(CLAIRE)
    _, page = await page_of(client, "/admin/applications/new?kind=partner&app=juridique")
    response = await client.post(
        "/admin/applications/new",
        data={
            "csrf_token": csrf_of(page),
            "kind": "partner",
            "app": "juridique",
            "api_key_id": "KEY-123",
            "secret": SECRET,
            "api_url": "ftp://nope",
            "field.legal_domain": "a b",
        },
    )
    assert response.status == 400
    page = await response.text()
    text = visible(page)
    assert "Certains champs sont à corriger" in text
    assert "Saisissez une adresse web complète" in text
    assert "Le format n'est pas valide" in text
    assert "Choisissez l'un des codes SIC du cabinet." in text
    assert 'value="KEY-123"' in page  # what was typed stays
    assert SECRET not in page  # except the secret, never sent back
    assert await count(sessions, ApplicationDraft) == 0


async def test_the_whole_wizard_search_page_apply_to_all_summary_validate(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    await signed_in(CLAIRE)
    path = await start_wizard(client)
    assert re.fullmatch(r"/admin/applications/new/\d+/dossiers", path)
    base = path.rsplit("/", 1)[0]

    status, page = await page_of(client, f"{path}?q=sa")
    assert status == 400
    assert "Saisissez au moins 3 caractères pour lancer la recherche." in visible(page)

    _, page = await page_of(client, f"{path}?q=sas")
    text = visible(page)
    assert "Aucun dossier sélectionné" in text
    assert "1–50 sur 72" in text
    assert page.count('name="pick"') == 50

    # Page 2, tick the page from the header (the form posts it), then see it counted.
    _, page = await page_of(client, f"{path}?q=sas&page=2")
    shown = re.search(r'name="shown" value="([^"]*)"', page)
    assert shown is not None
    response = await client.post(
        path,
        data={
            "csrf_token": csrf_of(page),
            "q": "sas",
            "page": "2",
            "shown": shown.group(1),
            "page_all": "1",
            "action": "page:2",
        },
    )
    text = visible(await response.text())
    assert "22 dossiers sélectionnés" in text and "51–72 sur 72" in text

    response = await client.post(
        path, data={"csrf_token": csrf_of(page), "q": "sas", "page": "2", "action": "all"}
    )
    text = visible(await response.text())
    assert "72 dossiers sélectionnés" in text
    assert "(tous les dossiers correspondant à « sas »)" in text

    response = await client.post(
        path, data={"csrf_token": csrf_of(page), "q": "sas", "action": "next"}
    )
    assert response.url.path == f"{base}/summary"
    text = visible(await response.text())
    assert "l'application Gestion juridique va être ajoutée à la configuration du cabinet" in text
    assert "sécurisée par la clé d'API KEY-123" in text
    assert "L'application sera immédiatement associée à 72 dossiers client." in text
    assert "Enregistré, chiffré" in text

    _, page = await page_of(client, f"{base}/summary?page=2")
    assert "51–72 sur 72" in visible(page)
    response = await client.post(f"{base}/validate", data={"csrf_token": csrf_of(page)})
    assert response.url.path == "/admin/applications"
    page = await response.text()
    text = visible(page)
    assert "Gestion juridique a été ajoutée au cabinet et associée à 72 dossiers." in text
    assert "Gestion juridique" in text and "KEY-123" in text and "72 dossiers" in text
    assert SECRET not in page
    assert await count(sessions, Connection) == 72
    # The flash is shown once.
    assert "a été ajoutée" not in visible((await page_of(client, "/admin/applications"))[1])


async def test_the_picker_script_endpoint_saves_ticks_and_returns_the_count(
    client: Client, signed_in: Any
) -> None:
    await signed_in(CLAIRE)
    path = await start_wizard(client)
    _, page = await page_of(client, path)
    shown = re.search(r'name="shown" value="([^"]*)"', page)
    assert shown is not None
    ids = shown.group(1).split(",")
    response = await client.post(
        path.replace("/dossiers", "/selection"),
        data={"shown": shown.group(1), "pick": ids[:3]},
        headers={"X-CSRF-Token": csrf_of(page)},
    )
    assert response.status == 200
    assert await response.json() == {"count": 3, "text": "3 dossiers sélectionnés"}
    # Without the token it is refused like any other post.
    response = await client.post(path.replace("/dossiers", "/selection"), data={"shown": "1"})
    assert response.status == 403


async def test_an_app_that_needs_a_contact_goes_from_step_one_to_the_summary(
    client: Client, signed_in: Any
) -> None:
    await signed_in(CLAIRE)
    path = await start_wizard(client, {"kind": "platform", "app": "start"})
    assert path.endswith("/summary")
    _, page = await page_of(client, path)
    text = visible(page)
    assert "Sans objet pour cette application" in text
    assert "Cette application se propose à un interlocuteur" in text
    assert f'href="{path.replace("/summary", "/definition")}"' in page  # Back skips step 2


async def test_back_keeps_the_values_and_the_secret_without_showing_it(
    client: Client, signed_in: Any
) -> None:
    await signed_in(CLAIRE)
    path = await start_wizard(client)
    _, page = await page_of(client, path.replace("/dossiers", "/definition"))
    text = visible(page)
    assert 'value="KEY-123"' in page and 'value="cabinet-durand"' in page
    assert "Un secret est enregistré." in text and SECRET not in page
    response = await client.post(
        path.replace("/dossiers", "/definition"),
        data={"csrf_token": csrf_of(page), **JURIDIQUE_FORM, "secret": ""},
    )
    assert response.url.path == path


async def test_cancel_forgets_the_draft(client: Client, signed_in: Any, sessions: Any) -> None:
    await signed_in(CLAIRE)
    path = await start_wizard(client)
    _, page = await page_of(client, path)
    response = await client.post(
        path.replace("/dossiers", "/cancel"), data={"csrf_token": csrf_of(page)}
    )
    assert response.url.path == "/admin/applications"
    assert await count(sessions, ApplicationDraft) == 0
    status, page = await page_of(client, path)
    assert status == 404
    assert "Cet ajout n'existe plus" in visible(page)


async def test_edit_keeps_or_replaces_the_secret(
    client: Client, signed_in: Any, settings: Settings, sessions: Any
) -> None:
    hub = build_services(settings, sessions)
    claire = await resolve(sessions, DEMO_TENANT_ID, CLAIRE)
    added = await apps.add_application(
        hub,
        claire,
        Definition(
            app="juridique",
            api_key_id="KEY-1",
            secret=SECRET,
            api_url="https://api.example.test",
            fields={"legal_domain": "dom-1"},
            sic_code="SIC-75001",
        ),
    )
    await signed_in(CLAIRE)
    _, page = await page_of(client, f"/admin/applications/{added.id}/edit")
    text = visible(page)
    assert "Modifier Gestion juridique" in text
    assert "Un secret est enregistré. Laissez le champ vide pour le garder" in text
    assert SECRET not in page
    response = await client.post(
        f"/admin/applications/{added.id}/edit",
        data={
            "csrf_token": csrf_of(page),
            "api_key_id": "KEY-2",
            "secret": "",
            "api_url": "https://api.example.test",
            "field.legal_domain": "dom-2",
            "sic_code": "SIC-69002",
            "is_default": "1",
        },
    )
    page = await response.text()
    text = visible(page)
    assert "Les paramètres de l'application Gestion juridique ont été enregistrés." in text
    assert "KEY-2" in text and 'aria-label="Activée par défaut"' in page
    async with sessions() as session:
        app = await session.get(FirmApplication, added.id)
        assert app is not None and app.secret_encrypted is not None
        assert hub.vault.open(app.secret_encrypted) == SECRET

    response = await client.post(
        f"/admin/applications/{added.id}/edit",
        data={"csrf_token": csrf_of(page), "api_key_id": "", "field.legal_domain": "dom-2"},
    )
    assert response.status == 400
    assert "Ce champ est obligatoire." in visible(await response.text())


async def test_moving_the_api_address_to_another_host_asks_for_the_secret_again(
    client: Client, signed_in: Any, settings: Settings, sessions: Any
) -> None:
    hub = build_services(settings, sessions)
    claire = await resolve(sessions, DEMO_TENANT_ID, CLAIRE)
    added = await apps.add_application(
        hub,
        claire,
        Definition(
            app="juridique",
            api_key_id="KEY-1",
            secret=SECRET,
            api_url="https://api.example.test/v1",
            fields={"legal_domain": "dom-1"},
            sic_code="SIC-75001",
        ),
    )
    await signed_in(CLAIRE)
    _, page = await page_of(client, f"/admin/applications/{added.id}/edit")
    form = {
        "csrf_token": csrf_of(page),
        "api_key_id": "KEY-1",
        "secret": "",
        "api_url": "https://elsewhere.example/v1",
        "field.legal_domain": "dom-1",
        "sic_code": "SIC-75001",
    }
    response = await client.post(f"/admin/applications/{added.id}/edit", data=form)
    assert response.status == 400
    text = visible(await response.text())
    assert "L'adresse de l'API désigne désormais un autre hôte" in text
    assert "saisissez à nouveau le secret" in text

    new_secret = "secret-for-elsewhere"
    response = await client.post(
        f"/admin/applications/{added.id}/edit", data={**form, "secret": new_secret}
    )
    assert "Les paramètres de l'application Gestion juridique ont été enregistrés." in visible(
        await response.text()
    )
    async with sessions() as session:
        app = await session.get(FirmApplication, added.id)
        assert app is not None and app.secret_encrypted is not None
        assert hub.vault.open(app.secret_encrypted) == new_secret
        assert app.api_url == "https://elsewhere.example/v1"


def test_the_address_refusals_say_what_to_type_in_both_languages() -> None:
    # Shown outside demo mode only (the panel's tests sign in in demo mode): the catalogs' texts.
    from hub.i18n import Translator

    english, french = (Translator("admin", lang) for lang in ("en", "fr"))
    assert "public https address" in english("applications.error.unreachable")
    assert "adresse https publique" in french("applications.error.unreachable")
    assert "enter the secret again" in english("applications.error.secret_again")


async def test_delete_says_what_will_happen_then_does_it(
    client: Client, signed_in: Any, settings: Settings, sessions: Any
) -> None:
    hub = build_services(settings, sessions)
    claire = await resolve(sessions, DEMO_TENANT_ID, CLAIRE)
    added = await apps.add_application(
        hub, claire, Definition(app="collecte-notes-de-frais"), Selection.everything("sas")
    )
    platform = await apps.add_application(hub, claire, Definition(app="consultation"))
    await signed_in(CLAIRE)

    _, page = await page_of(client, f"/admin/applications/{platform.id}/delete")
    text = visible(page)
    assert "Supprimer Consultation ?" in text
    assert "Aucun interlocuteur n'a d'accès à cette application" in text
    assert "Aucun maître de dossier n'est concerné" in text

    _, page = await page_of(client, f"/admin/applications/{added.id}/delete")
    assert "72 dossiers en seront déconnectés" in visible(page)
    response = await client.post(
        f"/admin/applications/{added.id}/delete", data={"csrf_token": csrf_of(page)}
    )
    text = visible(await response.text())
    assert (
        "Notes de frais par e-mail a été supprimée du cabinet. 72 dossiers ont été déconnectés."
        in text
    )
    assert await count(sessions, Connection) == 0


async def test_another_firms_application_is_not_found(
    client: Client, signed_in: Any, settings: Settings, sessions: Any
) -> None:
    from storage.models import StaffUser

    async with sessions() as session, session.begin():
        firm = Firm(name="Autre", tenant_id="other-tenant")
        session.add(firm)
        await session.flush()
        session.add(
            StaffUser(
                firm_id=firm.id,
                entra_object_id="other-admin",
                email="a@autre.fr",
                display_name="Autre",
                role="administrator",
            )
        )
    other = await resolve(sessions, "other-tenant", "other-admin")
    theirs = await apps.add_application(
        build_services(settings, sessions), other, Definition(app="start")
    )
    page = await signed_in(CLAIRE)
    for path in (
        f"/admin/applications/{theirs.id}/edit",
        f"/admin/applications/{theirs.id}/delete",
    ):
        status, body = await page_of(client, path)
        assert status == 404
        assert "Page introuvable" in visible(body)
    response = await client.post(
        f"/admin/applications/{theirs.id}/delete", data={"csrf_token": csrf_of(page)}
    )
    assert response.status == 404
    assert await count(sessions, FirmApplication, FirmApplication.id == theirs.id) == 1


async def test_the_wizard_speaks_english(client: Client, signed_in: Any) -> None:
    page = await signed_in(CLAIRE)
    await client.post(
        "/admin/language", data={"csrf_token": csrf_of(page), "lang": "en", "next": "/admin/"}
    )
    _, page = await page_of(client, "/admin/applications/new?kind=partner&app=juridique")
    text = visible(page)
    for phrase in (
        "Add an application",
        "Application definition",
        "Client dossier selection",
        "Summary",
        "API key id",
        "Legal domain",
        "Accounts approval, meetings and registers",
        "Next",
    ):
        assert phrase in text
    path = await start_wizard(client)
    _, page = await page_of(client, f"{path}?q=sas")
    text = visible(page)
    assert "No dossier selected" in text and "Apply to all" in text and "1–50 of 72" in text


# --------------------------------------------------------------------------- issue 13


MARC = "a0000000-0000-4000-8000-000000000002"  # collaborator and rights manager


async def test_only_administrators_see_the_unused_applications(
    client: Client, signed_in: Any
) -> None:
    """Seed 000 §1: someone without the administrator role does not see that section."""
    for who, shown, title in (
        (CLAIRE, True, "Applications non utilisées"),
        (MARC, False, "Applications non utilisées"),
        (JAMES, False, "Unused applications"),
    ):
        page = await signed_in(who)
        text = visible(page)
        assert (title in text) is shown, who
        assert ("Gestion juridique" in text) is shown, who
        await client.post("/admin/logout", data={"csrf_token": csrf_of(page)})


async def test_the_space_pasted_after_https_is_removed_and_another_space_is_named(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    """Seed 000 §2's pitfall: "https:// api.…" is the address meant; a space elsewhere gets a
    message that says what to do, in the reader's language."""
    await signed_in(CLAIRE)
    _, page = await page_of(client, "/admin/applications/new?kind=partner&app=juridique")
    form = {"csrf_token": csrf_of(page), **JURIDIQUE_FORM, "sic_code": "SIC-69002"}
    response = await client.post(
        "/admin/applications/new", data={**form, "api_url": "https:// api.example.test/v1"}
    )
    assert response.status == 200, visible(await response.text())
    async with sessions() as session:
        draft = await session.scalar(select(ApplicationDraft))
        assert draft is not None and draft.values["api_url"] == "https://api.example.test/v1"
        await session.delete(draft)
        await session.commit()

    _, page = await page_of(client, "/admin/applications/new?kind=partner&app=juridique")
    response = await client.post(
        "/admin/applications/new",
        data={**form, "csrf_token": csrf_of(page), "api_url": "https://api.example .test/v1"},
    )
    assert response.status == 400
    assert "Retirez les espaces de l'adresse" in visible(await response.text())
    await client.post("/admin/language", data={"csrf_token": csrf_of(page), "lang": "en"})
    _, page = await page_of(client, "/admin/applications/new?kind=partner&app=juridique")
    response = await client.post(
        "/admin/applications/new",
        data={**form, "csrf_token": csrf_of(page), "api_url": "https://api.example .test/v1"},
    )
    assert "Remove the spaces from the address" in visible(await response.text())


async def test_a_collection_email_application_is_added_in_one_step(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    """Seed 000 §2: a collection-email application is added at once, no wizard; one that asks
    for the partner's email asks for it on one page, then is added."""
    page = await signed_in(CLAIRE)
    assert 'action="/admin/applications/add"' in page
    response = await client.post(
        "/admin/applications/add",
        data={"csrf_token": csrf_of(page), "app": "collecte-notes-de-frais"},
    )
    assert response.status == 200 and response.url.path == "/admin/applications"
    text = visible(await response.text())
    assert "Notes de frais par e-mail a été ajoutée au cabinet." in text
    assert await count(sessions, FirmApplication) == 1
    assert await count(sessions, ApplicationDraft) == 0

    # The vendor's address is needed: one page asks for it, and its button adds the application.
    response = await client.post(
        "/admin/applications/add", data={"csrf_token": csrf_of(page), "app": "pre-compta-email"}
    )
    page = await response.text()
    assert response.url.path == "/admin/applications/new"
    assert "E-mail partenaire" in visible(page) and "Ajouter l'application" in visible(page)
    assert "Suivant" not in visible(page) and "Sélection des dossiers" not in visible(page)
    form = {"csrf_token": csrf_of(page), "kind": "partner", "app": "pre-compta-email"}
    response = await client.post("/admin/applications/add", data={**form, "partner_email": "x"})
    assert response.status == 400
    assert "Ajouter l'application" in visible(await response.text())
    response = await client.post(
        "/admin/applications/add", data={**form, "partner_email": "depot@editeur.example"}
    )
    assert response.url.path == "/admin/applications"
    assert "Pré-comptabilité par e-mail a été ajoutée au cabinet." in visible(await response.text())
    assert await count(sessions, FirmApplication) == 2
    assert await count(sessions, ApplicationDraft) == 0


async def test_an_api_application_still_goes_through_the_wizard(
    client: Client, signed_in: Any, sessions: Any
) -> None:
    page = await signed_in(CLAIRE)
    response = await client.post(
        "/admin/applications/add", data={"csrf_token": csrf_of(page), "app": "juridique"}
    )
    assert response.url.path == "/admin/applications/new"
    assert "Suivant" in visible(await response.text())
    assert await count(sessions, FirmApplication) == 0

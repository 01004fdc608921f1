"""Who reads a dossier's documents (hub/documents/browse.py): the rule of the History drawer
(:func:`hub.rights.visible_dossiers`) for the folder view, the document listing and the places
offered for a file. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from hub.documents import folder_view, list_documents, require_readable, upload_places
from hub.errors import NotFound, PermissionDenied
from hub.identity import Actor
from hub.services import Hub
from tests import scenes


@dataclass(frozen=True)
class Scene:
    admin: Actor
    sophie: Actor  # collaborator
    james: Actor  # collaborator
    marc: Actor  # rights manager
    contact: Actor
    sophie_code: str  # mastered by Sophie
    james_code: str  # mastered by James
    contact_code: str  # the contact's, mastered by the administrator


@pytest.fixture
async def scene(hub: Hub, sessions: Any) -> Scene:
    """Four root folders; three dossiers, each with Marc (the rights manager) as engagement
    manager, mastered by Sophie, James and the administrator (the contact's); four documents in
    Achats/2025: two in Sophie's dossier, one in James's, one in the contact's."""
    office = await scenes.office(
        sessions,
        dossier_count=0,
        folder_paths=("Achats/2025", "Administratif", "Notes de frais", "Ventes"),
    )
    firm = office.firm
    sophie = await scenes.staff(sessions, firm, "collaborator", name="Sophie Martin")
    james = await scenes.staff(sessions, firm, "collaborator", name="James Walker")
    marc = await scenes.staff(
        sessions, firm, "collaborator", name="Marc Lefèvre", rights_manager=True
    )
    (mine,) = await scenes.dossiers(sessions, firm, sophie, prefix="SOP", manager=marc)
    (his,) = await scenes.dossiers(sessions, firm, james, prefix="JAM", manager=marc)
    (theirs,) = await scenes.dossiers(sessions, firm, office.admin, prefix="CLI", manager=marc)
    contact = await scenes.contact(sessions, firm, theirs)
    admin = await scenes.actor(sessions, firm, office.admin)
    for dossier, name in (
        (mine, "facture-0412.pdf"),
        (his, "facture-0413.pdf"),
        (theirs, "=cmd-0414.pdf"),
        (mine, "avoir-0415.pdf"),
    ):
        await scenes.document(hub, admin, dossier, "Achats/2025", name)
    return Scene(
        admin=admin,
        sophie=await scenes.actor(sessions, firm, sophie),
        james=await scenes.actor(sessions, firm, james),
        marc=await scenes.actor(sessions, firm, marc),
        contact=await scenes.actor(sessions, firm, contact),
        sophie_code=mine.code,
        james_code=his.code,
        contact_code=theirs.code,
    )


def _token(scene: Scene) -> Actor:
    return Actor(
        firm_id=scene.admin.firm_id, firm_name="", kind="token", id=1, display_name="Scanner",
        locale="fr",
    )  # fmt: skip


async def test_administrators_and_rights_managers_read_every_dossier(
    hub: Hub, scene: Scene
) -> None:
    for person in (scene.admin, scene.marc, _token(scene)):
        view = await folder_view(hub, person, scene.james_code, "Achats/2025")
        assert [d.name for d in view.documents.items] == ["facture-0413.pdf"]
    page = await list_documents(hub, _token(scene), scene.sophie_code)
    assert sorted(d.name for d in page.items) == ["avoir-0415.pdf", "facture-0412.pdf"]


async def test_a_collaborator_reads_only_their_portfolio_and_is_told_whom_to_ask(
    hub: Hub, scene: Scene
) -> None:
    view = await folder_view(hub, scene.sophie, scene.sophie_code, "Achats/2025")
    assert sorted(d.name for d in view.documents.items) == ["avoir-0415.pdf", "facture-0412.pdf"]
    with pytest.raises(PermissionDenied) as refused:
        await folder_view(hub, scene.sophie, scene.james_code)
    assert refused.value.key == "documents.not_in_portfolio"
    assert refused.value.params == {"code": scene.james_code, "ask": "James Walker"}
    with pytest.raises(PermissionDenied):
        await list_documents(hub, scene.sophie, scene.james_code)
    with pytest.raises(PermissionDenied):
        await require_readable(hub, scene.sophie, scene.james_code)
    await require_readable(hub, scene.sophie, scene.sophie_code)
    # A dossier the firm does not have is not found, for everyone.
    with pytest.raises(NotFound):
        await folder_view(hub, scene.sophie, "NOPE999")
    with pytest.raises(NotFound):
        await folder_view(hub, scene.admin, "NOPE999")


async def test_a_contact_never_reads_the_folder_view(hub: Hub, scene: Scene) -> None:
    with pytest.raises(PermissionDenied) as refused:
        await folder_view(hub, scene.contact, scene.contact_code)
    assert refused.value.key == "rights.staff_only"


async def test_the_places_offered_for_a_file_are_the_dossiers_one_sees(
    hub: Hub, scene: Scene
) -> None:
    sophie = await upload_places(hub, scene.sophie, limit=500)
    codes = {d.code for d in sophie.dossiers}
    assert scene.sophie_code in codes and scene.james_code not in codes
    assert sophie.folders == ["Achats", "Administratif", "Notes de frais", "Ventes"]
    for code in codes:  # every one offered opens
        await require_readable(hub, scene.sophie, code)

    admin = await upload_places(hub, scene.admin, limit=500)
    assert {scene.sophie_code, scene.james_code} <= {d.code for d in admin.dossiers}
    assert len(admin.dossiers) > len(sophie.dossiers)

    contact = await upload_places(hub, scene.contact)
    assert scene.contact_code in {d.code for d in contact.dossiers}
    assert scene.sophie_code not in {d.code for d in contact.dossiers}

"""Who reads a dossier's documents (hub/documents/browse.py): the rule of the History drawer
(:func:`hub.rights.visible_dossiers`) for the folder view, the document listing and the places
offered for a file. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from hub.documents import folder_view, list_documents, require_readable, upload_places
from hub.errors import NotFound, PermissionDenied
from hub.identity import Actor
from hub.services import Hub
from relais.demo import DemoInfo
from tests.hub.test_history import Scene, arrange_scene


@pytest.fixture
async def scene(hub: Hub, demo: DemoInfo) -> Scene:
    return await arrange_scene(hub, demo)


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

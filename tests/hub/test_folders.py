"""The firm's folder tree, at the use-case level: reading, adding, renaming (sub-folders follow),
deleting only what nothing uses, name rules, rights, firm isolation, audit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub import folders
from hub.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hub.identity import Actor, resolve
from hub.services import Hub
from relais.demo import DEMO_STAFF, DEMO_TENANT_ID
from storage.models import AuditEvent, Document, Folder
from tests import scenes

TREE = (
    "Achats/2025",
    "Achats/2026",
    "Administratif/2025",
    "Administratif/2026",
    "Ventes/2025",
    "Ventes/2026",
)


@pytest.fixture
async def scene(sessions: Any) -> scenes.Office:
    """An administrator, the folders of ``TREE`` and one dossier."""
    return await scenes.office(sessions, folder_paths=TREE)


@pytest.fixture
async def claire(sessions: Any, scene: scenes.Office) -> Actor:
    return await scenes.actor(sessions, scene.firm, scene.admin)


@pytest.fixture
async def sophie(sessions: Any, scene: scenes.Office) -> Actor:
    collaborator = await scenes.staff(sessions, scene.firm, "collaborator", name="Sophie Martin")
    return await scenes.actor(sessions, scene.firm, collaborator)


async def paths(sessions: Any, firm_id: int) -> list[str]:
    async with sessions() as session:
        return sorted(await session.scalars(select(Folder.path).where(Folder.firm_id == firm_id)))


async def folder_id(sessions: Any, firm_id: int, path: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(Folder.id).where(Folder.firm_id == firm_id, Folder.path == path)
        )
        assert found is not None, path
        return int(found)


async def test_the_demo_tree_reads_as_folders_with_year_sub_folders(
    hub: Hub, sessions: Any, demo: Any
) -> None:
    # The demo firm's own tree is the point: what `relais demo` shows, four folders by year.
    claire_id, _marc, sophie_id, _james = (person[0] for person in DEMO_STAFF)
    claire = await resolve(sessions, DEMO_TENANT_ID, claire_id)
    sophie = await resolve(sessions, DEMO_TENANT_ID, sophie_id)
    tree = await folders.folder_tree(hub, claire)
    assert tree.can_edit
    assert [n.name for n in tree.roots] == ["Achats", "Administratif", "Notes de frais", "Ventes"]
    achats = tree.roots[0]
    assert [c.path for c in achats.children] == ["Achats/2025", "Achats/2026"]
    assert [n.path for n in tree.flat()][:3] == ["Achats", "Achats/2025", "Achats/2026"]
    read_only = await folders.folder_tree(hub, sophie)
    assert not read_only.can_edit
    assert len(read_only.flat()) == 12


async def test_add_a_folder_and_a_sub_folder(hub: Hub, sessions: Any, claire: Actor) -> None:
    top = await folders.add_folder(hub, claire, "  Banque  ")
    assert top.path == "Banque"
    sub = await folders.add_folder(hub, claire, "Relevés 2026", top.id)
    assert sub.path == "Banque/Relevés 2026"
    assert {"Banque", "Banque/Relevés 2026"} <= set(await paths(sessions, claire.firm_id))
    async with sessions() as session:
        events = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "folder.added")
                .order_by(AuditEvent.id)
            )
        )
    assert [e.details["path"] for e in events] == ["Banque", "Banque/Relevés 2026"]
    assert all(e.actor == claire.ref for e in events)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("", "folders.error.empty"),
        ("   ", "folders.error.empty"),
        ("Achats/2027", "folders.error.slash"),
        ("a\\b", "folders.error.slash"),
        ("..", "folders.error.dots"),
        ("x" * (folders.MAX_NAME + 1), "folders.error.too_long"),
        ("tab\there", "folders.error.empty"),
    ],
)
async def test_bad_names_are_refused_with_the_reason(
    hub: Hub, sessions: Any, claire: Actor, name: str, key: str
) -> None:
    before = await paths(sessions, claire.firm_id)
    if key == "folders.error.empty" and "\t" in name:
        # Whitespace inside a name is collapsed to one space: "tab here" is a fine name.
        node = await folders.add_folder(hub, claire, name)
        assert node.name == "tab here"
        return
    with pytest.raises(InvalidInput) as refused:
        await folders.add_folder(hub, claire, name)
    assert refused.value.key == key
    assert refused.value.field == "name"
    assert await paths(sessions, claire.firm_id) == before


async def test_names_are_unique_among_siblings_only_whatever_the_case(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await folders.add_folder(hub, claire, "achats")
    assert refused.value.key == "folders.error.taken"
    ventes = await folder_id(sessions, claire.firm_id, "Ventes")
    with pytest.raises(InvalidInput):
        await folders.add_folder(hub, claire, "2025", ventes)
    # The same name under another parent is fine.
    node = await folders.add_folder(hub, claire, "2027", ventes)
    assert node.path == "Ventes/2027"


async def test_renaming_moves_the_paths_of_sub_folders_and_keeps_connections(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    achats = await folder_id(sessions, claire.firm_id, "Achats")
    sub = await folder_id(sessions, claire.firm_id, "Achats/2025")
    deeper = await folders.add_folder(hub, claire, "Janvier", sub)
    done = await folders.rename_folder(hub, claire, achats, "Fournisseurs")
    assert (done.old_path, done.new_path, done.subfolders) == ("Achats", "Fournisseurs", 3)
    all_paths = await paths(sessions, claire.firm_id)
    assert "Achats" not in all_paths and "Achats/2025" not in all_paths
    assert {"Fournisseurs", "Fournisseurs/2025", "Fournisseurs/2025/Janvier"} <= set(all_paths)
    async with sessions() as session:
        moved = await session.get(Folder, deeper.id)
        assert moved is not None and moved.path == "Fournisseurs/2025/Janvier"
    with pytest.raises(InvalidInput) as refused:
        await folders.rename_folder(hub, claire, achats, "Ventes")
    assert refused.value.key == "folders.error.taken"
    # Renaming to its own name, in another case, is allowed.
    await folders.rename_folder(hub, claire, achats, "fournisseurs")
    assert "fournisseurs/2026" in await paths(sessions, claire.firm_id)


async def test_delete_refuses_a_folder_a_connection_uses_and_says_which(
    hub: Hub, sessions: Any, scene: scenes.Office, claire: Actor
) -> None:
    sub = await folder_id(sessions, claire.firm_id, "Achats/2026")
    ocr = await scenes.application(hub, scene.firm.id, "ocr-achats")
    await scenes.connection(sessions, scene.firm.id, ocr.id, scene.dossier.id, ["Achats/2026"])
    achats = await folder_id(sessions, claire.firm_id, "Achats")
    usage = await folders.deletion_check(hub, claire, achats)
    assert usage.blocked and usage.applications == [("OCR Factures — Achats", 1)]
    assert usage.subfolders == 2
    with pytest.raises(Conflict) as refused:
        await folders.delete_folder(hub, claire, achats)
    assert refused.value.key == "folders.error.in_use"
    assert refused.value.params["applications"] == "OCR Factures — Achats"
    assert "Achats/2026" in await paths(sessions, claire.firm_id)
    tree = await folders.folder_tree(hub, claire)
    node = tree.find(sub)
    assert node is not None and node.connections == 1


async def test_delete_refuses_a_folder_holding_documents(
    hub: Hub, sessions: Any, scene: scenes.Office, claire: Actor
) -> None:
    sub = await folder_id(sessions, claire.firm_id, "Ventes/2025")
    async with sessions() as session, session.begin():
        session.add(
            Document(
                firm_id=claire.firm_id, dossier_id=scene.dossier.id, folder_id=sub, name="f.pdf"
            )
        )
    ventes = await folder_id(sessions, claire.firm_id, "Ventes")
    with pytest.raises(Conflict) as refused:
        await folders.delete_folder(hub, claire, ventes)
    assert refused.value.params["documents"] == 1
    assert (await folders.deletion_check(hub, claire, ventes)).documents == 1


async def test_delete_removes_an_unused_folder_with_its_sub_folders(
    hub: Hub, sessions: Any, claire: Actor
) -> None:
    admin = await folder_id(sessions, claire.firm_id, "Administratif")
    usage = await folders.delete_folder(hub, claire, admin)
    assert usage.subfolders == 2
    left = await paths(sessions, claire.firm_id)
    assert not [p for p in left if p.startswith("Administratif")]
    async with sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "folder.deleted")
        )
    assert event is not None and event.details == {"path": "Administratif", "subfolders": 2}


async def test_collaborators_read_but_never_change_and_other_firms_are_not_found(
    hub: Hub, sessions: Any, claire: Actor, sophie: Actor
) -> None:
    achats = await folder_id(sessions, claire.firm_id, "Achats")
    for attempt in (
        folders.add_folder(hub, sophie, "X"),
        folders.rename_folder(hub, sophie, achats, "X"),
        folders.delete_folder(hub, sophie, achats),
        folders.deletion_check(hub, sophie, achats),
    ):
        with pytest.raises(PermissionDenied):
            await attempt
    other = await scenes.firm(sessions, "Autre", domain="autre.fr", catalog=False)
    admin = await scenes.staff(sessions, other, "administrator", name="Autre")
    stranger = await scenes.actor(sessions, other, admin)
    assert (await folders.folder_tree(hub, stranger)).roots == []
    for attempt in (
        folders.add_folder(hub, stranger, "X", achats),
        folders.rename_folder(hub, stranger, achats, "X"),
        folders.delete_folder(hub, stranger, achats),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert "Achats" in await paths(sessions, claire.firm_id)

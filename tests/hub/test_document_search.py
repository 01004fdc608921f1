"""Finding documents by a part of their name (``find_documents``, the bot's ``history``) with the
trigram index of migration 0006: the same documents as a plain substring test, whatever the
characters typed (quotes, ``*``, ``-``, ``:``, ``%``, ``_``, dots, accents, any case), short terms
included, and still right after documents are added, renamed and deleted. SQLite and PostgreSQL."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, insert, select, text, update

from hub.documents import receive_document
from hub.errors import InvalidInput
from hub.history import find_documents
from hub.identity import Actor
from hub.services import Hub
from storage.models import Document, Dossier
from storage.search import FTS_TABLE, TRGM_INDEX, fts_phrase
from tests import scenes
from tests.connectors.arrange import pdf
from tests.scenes import Office

# Names people and imports give files; stored as they are (uploads would tidy the ones with
# quotes, stars and colons, but older rows and imports hold such names).
NAMES = [
    "Facture-0412.pdf",
    "facture_2025.pdf",
    "FACTURE 100%.pdf",
    "État des lieux.pdf",
    "état-civil.PDF",
    "ÉTAT.pdf",
    "résumé_été.docx",
    'devis "urgent".pdf',
    "note*brouillon.txt",
    "a-b:c.pdf",
    "rapport.final.v2.pdf",
    "100_pour_cent.pdf",
    "O'Brien & fils.pdf",
    "NEAR OR AND NOT.pdf",
    "x.y",
    "chemin\\fichier.pdf",
]

# Typed terms: three characters and more take the index on SQLite, shorter ones the LIKE path.
TERMS = [
    "facture",
    "FACTURE",
    "Facture-04",
    "0412",
    "100%",
    "100_",
    "_20",
    "%",
    "_",
    '"urgent"',
    '"',
    'devis "',
    "*",
    "e*b",
    "note*",
    "a-b",
    "b:c",
    ":",
    "-",
    ".pdf",
    ".",
    "rapport.final",
    "l.v",
    "tat",
    "état",
    "ÉTAT",
    "État des",
    "résumé_été",
    "pdf",
    "PDF",
    "O'Brien",
    "'",
    " & ",
    "NEAR",
    "OR AND",
    "NOT",
    "^x",
    "x.y",
    "s d",
    "zzz",
    "1",
    "10",
    "\\",
    "n\\f",
    "\\%",
    "%_",
]


@dataclass
class Place:
    admin: Actor
    dossier_id: int
    folder_id: int


async def _place(hub: Hub, office: Office) -> Place:
    admin = await scenes.actor(hub.sessions, office.firm, office.admin)
    code = office.dossier.code
    receipt = await receive_document(hub, admin, code, "Achats", "premier.pdf", pdf("1"), "panel")
    async with hub.sessions() as session:
        first = await session.get(Document, receipt.document_id)
        assert first is not None
        return Place(admin, first.dossier_id, first.folder_id)


async def _add(hub: Hub, place: Place, *names: str) -> list[int]:
    async with hub.sessions() as session, session.begin():
        result = await session.execute(
            insert(Document).returning(Document.id),
            [
                {
                    "firm_id": place.admin.firm_id,
                    "dossier_id": place.dossier_id,
                    "folder_id": place.folder_id,
                    "name": name,
                }
                for name in names
            ],
        )
        return list(result.scalars())


async def _found(hub: Hub, who: Actor, term: str, limit: int = 7) -> list[tuple[int, str]]:
    """Every page of the answer, as the bot's "show more" walks them."""
    found: list[tuple[int, str]] = []
    after: int | None = None
    while True:
        page = await find_documents(hub, who, term, limit=limit, after=after)
        found += [(m.id, m.name) for m in page.items]
        if page.next_after is None:
            return found
        after = page.next_after


async def _expected(hub: Hub, firm_id: int, term: str) -> list[tuple[int, str]]:
    """What a person means: the firm's documents whose name holds every word of the term, in any
    order, any case, with or without accents (Python's own folding, not the database's)."""
    wanted = [_plain(w) for w in term.split()]
    async with hub.sessions() as session:
        rows = await session.execute(
            select(Document.id, Document.name)
            .where(Document.firm_id == firm_id)
            .order_by(Document.id.desc())
        )
        return [(i, n) for i, n in rows if all(w in _plain(n) for w in wanted)]


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "oe"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@pytest.fixture
async def place(hub: Hub, office: Office) -> Place:
    result = await _place(hub, office)
    await _add(hub, result, *NAMES)
    return result


async def test_every_term_finds_exactly_the_names_holding_it(hub: Hub, place: Place) -> None:
    for term in TERMS:
        found = await _found(hub, place.admin, term)
        assert found == await _expected(hub, place.admin.firm_id, term), term
    # A few answers spelled out, so the reference above is not the only judge.
    for term, names in (
        ("état", {"État des lieux.pdf", "état-civil.PDF", "ÉTAT.pdf"}),
        ('"', {'devis "urgent".pdf'}),
        ("100%", {"FACTURE 100%.pdf"}),
        ("_20", {"facture_2025.pdf"}),
        ("e*b", {"note*brouillon.txt"}),
        ("OR AND", {"NEAR OR AND NOT.pdf"}),
    ):
        assert {n for _, n in await _found(hub, place.admin, term)} == names, term


async def test_surrounding_spaces_are_dropped_and_blank_is_refused(hub: Hub, place: Place) -> None:
    assert [n for _, n in await _found(hub, place.admin, "  rapport.final  ")] == [
        "rapport.final.v2.pdf"
    ]
    with pytest.raises(InvalidInput):
        await find_documents(hub, place.admin, " \t ")


async def test_adding_renaming_and_deleting_keep_the_search_right(
    hub: Hub, office: Office, place: Place
) -> None:
    admin = place.admin
    code = office.dossier.code
    # Added by an upload.
    receipt = await receive_document(
        hub, admin, code, "Achats", "bilan-annuel.pdf", pdf("b"), "panel"
    )
    assert [n for _, n in await _found(hub, admin, "ANNUEL")] == ["bilan-annuel.pdf"]

    # Renamed: found by its new name only.
    async with hub.sessions() as session, session.begin():
        await session.execute(
            update(Document)
            .where(Document.id == receipt.document_id)
            .values(name="compte-de-résultat.pdf")
        )
    assert await _found(hub, admin, "annuel") == []
    assert [n for _, n in await _found(hub, admin, "RÉSULTAT")] == ["compte-de-résultat.pdf"]

    # Deleted: gone; a new document (SQLite may give it the freed id) is found by its own name.
    async with hub.sessions() as session, session.begin():
        await session.execute(delete(Document).where(Document.id == receipt.document_id))
    assert await _found(hub, admin, "résultat") == []
    (new_id,) = await _add(hub, place, "liasse fiscale.pdf")
    assert await _found(hub, admin, "résultat") == []
    assert await _found(hub, admin, "liasse") == [(new_id, "liasse fiscale.pdf")]

    # A dossier deleted takes its documents with it (ON DELETE CASCADE).
    async with hub.sessions() as session, session.begin():
        await session.execute(delete(Dossier).where(Dossier.id == place.dossier_id))
    for term in ("facture", "liasse", ".pdf", "%", "x."):
        assert await _found(hub, admin, term) == await _expected(hub, admin.firm_id, term), term
    assert await _found(hub, admin, "liasse") == []
    await _index_agrees_with_the_table(hub, ("facture", "liasse", "résultat", "annuel", "pdf"))


async def _index_agrees_with_the_table(hub: Hub, terms: tuple[str, ...]) -> None:
    """On SQLite, the FTS table itself (not only the search, whose join to ``document`` would
    hide a forgotten row) holds exactly the names the table holds."""
    async with hub.sessions() as session:
        if (await session.connection()).dialect.name != "sqlite":
            return
        for term in terms:
            indexed = set(
                await session.scalars(
                    text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q"),
                    {"q": fts_phrase(term)},
                )
            )
            names = await session.execute(select(Document.id, Document.name))
            assert indexed == {i for i, n in names if term in n.lower()}, term


async def test_short_terms_match_anywhere_with_wildcards_as_text(hub: Hub, place: Place) -> None:
    names = lambda found: {n for _, n in found}  # noqa: E731
    assert names(await _found(hub, place.admin, "x.")) == {"x.y", "État des lieux.pdf"}
    assert names(await _found(hub, place.admin, "%")) == {"FACTURE 100%.pdf"}
    assert names(await _found(hub, place.admin, "_p")) == {"100_pour_cent.pdf"}
    assert names(await _found(hub, place.admin, "Y")) >= {"x.y"}
    assert await _found(hub, place.admin, "§") == []


async def test_the_index_follows_who_may_see_the_dossier(
    hub: Hub, office: Office, place: Place
) -> None:
    """A collaborator finds only the documents of the dossiers they look after; another firm's
    documents never show."""
    colleague = await scenes.staff(hub.sessions, office.firm, "collaborator")
    collaborator = await scenes.actor(hub.sessions, office.firm, colleague)
    for master, expected in ((collaborator.id, True), (place.admin.id, False)):
        async with hub.sessions() as session, session.begin():
            await session.execute(
                update(Dossier)
                .where(Dossier.id == place.dossier_id)
                .values(master_id=master, engagement_manager_id=None)
            )
        found = {n for _, n in await _found(hub, collaborator, "facture")}
        assert found == (
            {"Facture-0412.pdf", "facture_2025.pdf", "FACTURE 100%.pdf"} if expected else set()
        )
    stranger = Actor(
        firm_id=place.admin.firm_id + 1000,
        firm_name="Ailleurs",
        kind="system",
        id=0,
        display_name="ailleurs",
        locale="fr",
    )
    assert await _found(hub, stranger, "facture") == []


async def test_several_words_with_or_without_accents_find_the_name(hub: Hub, place: Place) -> None:
    await _add(hub, place, "Relevé-0412-banque.pdf", "facture-0412-edf.pdf", "cœur.txt")
    for term, names in (
        ("releve", {"Relevé-0412-banque.pdf"}),
        ("RELEVÉ banque", {"Relevé-0412-banque.pdf"}),
        ("facture edf", {"facture-0412-edf.pdf"}),
        ("edf FACTURE", {"facture-0412-edf.pdf"}),
        ("0412 edf", {"facture-0412-edf.pdf"}),
        ("0412 pdf", {"Relevé-0412-banque.pdf", "facture-0412-edf.pdf", "Facture-0412.pdf"}),
        ("etat lieux", {"État des lieux.pdf"}),
        ("resume ete", {"résumé_été.docx"}),
        ("coeur", {"cœur.txt"}),
        ("edf x", set()),  # a short word filters the indexed ones
        ("facture zzz", set()),
    ):
        assert {n for _, n in await _found(hub, place.admin, term)} == names, term


async def test_the_plan_asks_the_index_for_every_word(hub: Hub, place: Place) -> None:
    """Folding and several words keep the query on the trigram index, in both databases."""
    from hub.history.search import _matching

    async with hub.sessions() as session, session.begin():
        connection = await session.connection()
        dialect = connection.dialect.name
        # No other condition: a few rows would rather be read through the firm's index.
        query = _matching(dialect, ["facture", "edf"], [], None, 11)
        sql = str(
            query.compile(connection.engine.sync_engine, compile_kwargs={"literal_binds": True})
        )
        if dialect == "sqlite":
            plan = " ".join(
                str(r[-1]) for r in await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            )
            assert "VIRTUAL TABLE INDEX" in plan and FTS_TABLE in plan, plan
        else:
            # A few rows would be read whole; the question is whether the index can answer.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in await session.execute(text(f"EXPLAIN {sql}")))
            assert f"Bitmap Index Scan on {TRGM_INDEX}" in plan, plan
            assert "%facture%" in plan and "%edf%" in plan, plan

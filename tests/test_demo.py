"""`relais demo` shows the product working, as a person trying it sees it: a document dropped in
the panel travels to the demo's partner stand-in (a real server at another address, started by
the demo itself) and comes back sent with its reference, or refused; the links in cards follow
the port served; run again, the demo keeps its firm and points its applications at the new
stand-in; and ``proposer`` reaches its applications step with the offers for contacts."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar, FormData
from sqlalchemy import func, select

from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_STAFF, DEMO_TENANT_ID, DemoInfo, seed_activity
from relais.keys import HUB
from storage.models import Dossier, FirmApplication
from tests.admin.browser import Demo, run_demo, server_log
from tests.admin.conftest import visible
from tests.bot.test_invite import Teams
from tests.cards import cards_of
from tests.connectors.arrange import pdf
from tests.fakes.activities import teams_message
from tests.fakes.connector import FakeBotConnector

CLAIRE = DEMO_STAFF[0].object_id  # the administrator
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STAND_IN = re.compile(r"Partner stand-in \(demo only\): (http://127\.0\.0\.1:\d+)")
# The first of Claire's dossiers the demo connects (see the banner's "statut …" example), and
# the folder its purchases OCR serves.
DOSSIER, FOLDER = "BLA011", "Achats/2026"
SENT_WITHIN = 10.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, Path]]:
    folder = tmp_path_factory.mktemp("demo")
    with run_demo(folder, activity=True) as demo:
        yield demo, folder


async def _signed_in(session: ClientSession, url: str) -> None:
    login = await (await session.get(f"{url}/admin/login")).text()
    response = await session.post(
        f"{url}/admin/login/demo",
        data={"csrf_token": CSRF.findall(login)[0], "object_id": CLAIRE},
    )
    assert response.status == 200, await response.text()


async def _upload(session: ClientSession, url: str, name: str, data: bytes) -> int:
    """Drop a file in the dossier's folder from the panel; the new document's id."""
    documents = f"{url}/admin/dossiers/{DOSSIER}/documents"
    page = await (await session.get(f"{documents}?folder={FOLDER}")).text()
    form = FormData()
    form.add_field("csrf_token", CSRF.findall(page)[0])
    form.add_field("folder", FOLDER)
    form.add_field("files", data, filename=name, content_type="application/pdf")
    response = await session.post(documents, data=form)
    assert response.status == 200, await response.text()
    listing = await (await session.get(f"{documents}?folder={FOLDER}")).text()
    match = re.search(rf"/admin/documents/(\d+)/history[^>]*>\s*{re.escape(name)}", listing)
    assert match, f"{name} is not listed in {DOSSIER} {FOLDER}"
    return int(match.group(1))


async def _history_once(session: ClientSession, url: str, document: int, wanted: str) -> str:
    """The document's History once ``wanted`` shows in it, within SENT_WITHIN seconds."""
    deadline = time.monotonic() + SENT_WITHIN
    while True:
        page = await (await session.get(f"{url}/admin/documents/{document}/history")).text()
        text = visible(page)
        if wanted in text:
            return text
        assert time.monotonic() < deadline, f"no {wanted!r} after {SENT_WITHIN}s:\n{text}"
        await asyncio.sleep(0.2)  # polling the page for the worker's outcome, under a deadline


async def _help_card(url: str, connector: FakeBotConnector) -> dict[str, Any]:
    """``aide`` from Claire, through the demo's own bot endpoint; the card it answers with."""
    before = len(connector.sent)
    activity = teams_message(
        "aide", service_url=connector.url, tenant_id=DEMO_TENANT_ID, user_aad_id=CLAIRE
    )
    async with ClientSession() as session:
        response = await session.post(f"{url}/api/messages", json=activity)
        assert response.status in (200, 201), await response.text()
    replies = (await connector.await_sent(before + 1))[before:]
    (card,) = cards_of(replies[0].body)
    return card


def _open_urls(card: dict[str, Any]) -> list[str]:
    return [a["url"] for a in card.get("actions", []) if a.get("type") == "Action.OpenUrl"]


async def test_a_dropped_document_is_sent_to_the_stand_in_with_its_reference(
    served: tuple[Demo, Path],
) -> None:
    demo, folder = served
    banner = server_log(folder)
    match = STAND_IN.search(banner)
    assert match, banner
    stand_in = match.group(1)
    assert stand_in != demo.url
    assert "demo partner stand-in serving on " + stand_in in banner

    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        await _signed_in(session, demo.url)
        document = await _upload(session, demo.url, "facture-essai-demo.pdf", pdf("demo"))
        sent = await _history_once(session, demo.url, document, "Référence chez l'application")
        assert "OCR Factures — Achats ✓ Envoyé" in sent
        references = re.findall(r"Référence chez l'application (DEMO-[0-9a-f]{12})", sent)
        assert len(references) == 1

        # The stand-in took it: it is a server at its own address, as a partner would be.
        stats = await (await session.get(f"{stand_in}/_sandbox/stats")).json()
        assert stats["documents"] >= 1

        # What a partner refuses comes back refused, with its answer, and no retry.
        unreadable = await _upload(session, demo.url, "facture-illisible.pdf", pdf("flou"))
        refused = await _history_once(session, demo.url, unreadable, "Échec")
        assert "OCR Factures — Achats ✕ Échec" in refused
        assert "Document illisible" in refused


async def test_links_in_cards_follow_the_port_served(
    served: tuple[Demo, Path], fake_bot_connector: FakeBotConnector
) -> None:
    demo, folder = served
    assert demo.url.startswith("http://127.0.0.1:") and not demo.url.endswith(":3978")
    card = await _help_card(demo.url, fake_bot_connector)
    assert _open_urls(card) == [f"{demo.url}/admin/"]
    assert f"Links in cards: {demo.url}" in server_log(folder)


async def test_run_again_the_demo_keeps_its_firm_and_finds_the_new_stand_in(
    tmp_path: Path, fake_bot_connector: FakeBotConnector
) -> None:
    with run_demo(tmp_path, activity=True) as first:
        banner = server_log(tmp_path)
    first_stand_in = STAND_IN.findall(banner)[-1]
    counts = await _counts(first.database_url)

    # An address given explicitly wins over the port served.
    with run_demo(tmp_path, {"RELAIS_BASE_URL": "https://relais.example"}, activity=True) as again:
        second_stand_in = STAND_IN.findall(server_log(tmp_path))[-1]
        assert second_stand_in != first_stand_in
        assert await _counts(again.database_url) == counts
        assert await _api_urls(again.database_url) == {second_stand_in}
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
            await _signed_in(session, again.url)
            document = await _upload(session, again.url, "facture-second-run.pdf", pdf("2"))
            sent = await _history_once(session, again.url, document, "Référence chez")
            assert "OCR Factures — Achats ✓ Envoyé" in sent
        card = await _help_card(again.url, fake_bot_connector)
        assert _open_urls(card) == ["https://relais.example/admin/"]


async def _counts(database_url: str) -> tuple[int, int]:
    from storage.db import create_engine, session_factory

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            dossiers = await session.scalar(select(func.count()).select_from(Dossier))
            apps = await session.scalar(select(func.count()).select_from(FirmApplication))
    finally:
        await engine.dispose()
    return dossiers or 0, apps or 0


async def _api_urls(database_url: str) -> set[str]:
    from storage.db import create_engine, session_factory

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            urls = set(
                await session.scalars(
                    select(FirmApplication.api_url).where(FirmApplication.api_url != "")
                )
            )
    finally:
        await engine.dispose()
    return urls


# --------------------------------------------------------------------------- proposer


async def test_proposer_reaches_the_applications_for_contacts(
    settings: Settings,
    demo: DemoInfo,
    aiohttp_client: Any,
    fake_bot_connector: FakeBotConnector,
) -> None:
    client = await aiohttp_client(build_app(settings))
    await seed_activity(client.app[HUB])
    teams = Teams(client, fake_bot_connector)
    step1 = await teams.say("proposer", user=CLAIRE)
    step2 = await teams.click(step1, "propose.contacts", {"dossier": DOSSIER}, user=CLAIRE)
    contacts = next(b for b in step2["body"] if b.get("id") == "contact")["choices"]
    guest = next(c for c in contacts if c["value"] != "none")
    assert guest["title"].startswith(demo.contacts[0].name)

    step3 = await teams.click(step2, "propose.apps", {"contact": guest["value"]}, user=CLAIRE)
    texts = [b.get("text", "") for b in step3["body"]]
    assert texts[1].startswith("Étape 3 sur 3 : les applications proposées à ")
    toggles = [b["items"][0] for b in step3["body"] if b.get("type") == "Container"]
    assert [t["title"] for t in toggles] == [
        "Co-production",
        "Consultation",
        "Finance mobile",
        "Start",
    ]

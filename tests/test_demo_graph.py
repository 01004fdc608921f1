"""`relais demo` with its Microsoft stand-in: the demo firm has granted consent, an invited contact
accepts a few seconds later and becomes a guest, an offer reaches them in Teams (Relais installed
for them through the stand-in) and they accept it — all through the production code path, the
stand-in being only an HTTPS server at another address. And the Agents Playground files name
the demo tenant and the demo's real people."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession, CookieJar
from sqlalchemy import select

from hub.contacts import refresh_pending
from hub.settings import DEMO_TEAMS_APP_ID, Settings
from relais.app import build_app
from relais.cli import _at_graph_stand_in
from relais.demo import DEMO_STAFF, DEMO_TENANT_ID, DemoInfo, seed_activity
from relais.demo.firm import grant_consent
from relais.demo.graph import ACCEPT_AFTER, GraphStandIn, Person
from relais.demo.partner import address_of, listening_socket, serving
from relais.demo.tls import make_certificates
from relais.keys import HUB
from storage.db import Sessions
from storage.models import Contact
from tests.admin.browser import Demo, run_demo, server_log
from tests.admin.conftest import visible
from tests.bot.test_invite import Teams
from tests.cards import cards_of, texts_of
from tests.fakes.activities import personal_conversation_id
from tests.fakes.connector import FakeBotConnector

CLAIRE = DEMO_STAFF[0].object_id  # the administrator
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DOSSIER = "BLA011"
LEA = {"first_name": "Léa", "last_name": "Petit", "email": "lea.petit@client-bla011.fr"}
USER_FIELDS = {"id", "name", "userPrincipleName", "aadObjectId", "givenName", "surname", "email"}


class Clock:
    """The stand-in's clock: the real one, moved forward by the test instead of waiting."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@pytest.fixture
async def stand_in(
    settings: Settings, demo: DemoInfo, tmp_path: Path
) -> AsyncIterator[tuple[GraphStandIn, Settings, Clock]]:
    """The demo's Microsoft stand-in served over HTTPS (its throw-away CA), and the demo's
    settings pointed at it as `relais demo` points them."""
    clock = Clock()
    graph = GraphStandIn(
        DEMO_TENANT_ID,
        [Person(p.object_id, p.name, p.email) for p in demo.staff]
        + [Person(p.object_id, p.name, p.email, guest=True) for p in demo.contacts],
        clock=clock,
    )
    tls = make_certificates(tmp_path / "demo-tls")
    sock = listening_socket()
    graph.url = address_of(sock, "https")
    at_graph = _at_graph_stand_in(settings, graph.url, tls.ca_file)
    assert at_graph is not None
    async with serving(graph, sock, ssl_context=tls.server_context()):
        yield graph, at_graph, clock


async def test_invite_accept_propose_offer_accept_in_the_demo(
    stand_in: tuple[GraphStandIn, Settings, Clock],
    sessions: Sessions,
    aiohttp_client: Any,
    fake_bot_connector: FakeBotConnector,
) -> None:
    graph, settings, clock = stand_in
    assert await grant_consent(sessions)
    client = await aiohttp_client(build_app(settings))
    await seed_activity(client.app[HUB])  # the firm's applications, offers for contacts among them
    teams = Teams(client, fake_bot_connector)

    # Claire invites Léa from Teams: sent, pending (not "Consentement nécessaire").
    form = await teams.say("inviter", user=CLAIRE)
    card = await teams.click(form, "invite.send", {**LEA, "dossier": DOSSIER}, user=CLAIRE)
    assert texts_of(card)[0] == "Invitation envoyée à Léa Petit"
    assert "Invitation en attente" in texts_of(card)

    # A few seconds later she has accepted; the refresher's round records it.
    clock.ahead = ACCEPT_AFTER
    assert await refresh_pending(client.app[HUB], every=timedelta(0)) == 1
    async with sessions() as session:
        lea = await session.scalar(select(Contact).where(Contact.email == LEA["email"]))
    assert lea is not None and lea.guest_state == "guest"
    assert lea.entra_object_id in graph.users

    # Claire proposes an application to her: Relais is installed for Léa through the stand-in,
    # the chat opened at the Bot Connector and the offer card sent there.
    step1 = await teams.say("proposer", user=CLAIRE)
    step2 = await teams.click(step1, "propose.contacts", {"dossier": DOSSIER}, user=CLAIRE)
    step3 = await teams.click(step2, "propose.apps", {"contact": str(lea.id)}, user=CLAIRE)
    toggle = next(b["items"][0] for b in step3["body"] if b.get("type") == "Container")
    summary = await teams.click(step3, "propose.send", {toggle["id"]: "true"}, user=CLAIRE)
    assert texts_of(summary)[-1] == (
        "Léa Petit a reçu les offres dans Teams. Je vous préviendrai de sa réponse."
    )
    assert graph.installed == [(lea.entra_object_id, DEMO_TEAMS_APP_ID)]
    (created,) = [c for c in fake_bot_connector.calls.items if c.kind == "create_conversation"]
    assert created.body["members"][0]["aadObjectId"] == lea.entra_object_id
    claires = personal_conversation_id(CLAIRE)
    (sent,) = [c for c in fake_bot_connector.sent if c.conversation_id != claires]
    (offer,) = cards_of(sent.body)
    assert texts_of(offer)[0] == toggle["title"]

    # Léa accepts in Teams.
    answered = await teams.click(offer, "offer.accept", user=lea.entra_object_id)
    assert texts_of(answered)[0] == f"Vous avez accepté {toggle['title']}"


async def test_the_stand_in_keeps_what_it_learnt_for_the_next_run(tmp_path: Path) -> None:
    state = tmp_path / "demo-microsoft.json"
    first = GraphStandIn(DEMO_TENANT_ID, state_file=state)
    first.users["x"] = {"id": "x", "displayName": "X", "mail": "x@y.fr", "userType": "Guest"}
    first.installed.append(("x", DEMO_TEAMS_APP_ID))
    first._save()
    again = GraphStandIn(DEMO_TENANT_ID, [Person(CLAIRE, "Claire", "c@d.fr")], state_file=state)
    assert set(again.users) == {"x", CLAIRE} and again.installed == [("x", DEMO_TEAMS_APP_ID)]


# --------------------------------------------------------------------------- relais demo itself


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, Path]]:
    folder = tmp_path_factory.mktemp("demo-graph")
    with run_demo(folder) as demo:
        yield demo, folder


async def test_the_demo_firm_shows_consent_granted_and_checked_again(
    served: tuple[Demo, Path],
) -> None:
    demo, folder = served
    assert "Microsoft stand-in (demo only): https://127.0.0.1:" in server_log(folder)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        login = await (await session.get(f"{demo.url}/admin/login")).text()
        await session.post(
            f"{demo.url}/admin/login/demo",
            data={"csrf_token": CSRF.findall(login)[0], "object_id": CLAIRE},
        )
        page = await (await session.get(f"{demo.url}/admin/tenant")).text()
        assert "Consentement accordé" in visible(page)
        assert "Consentement pas encore accordé" not in visible(page)
        # "Check again" asks the stand-in for a token over HTTPS and reads its roles.
        checked = await session.post(
            f"{demo.url}/admin/tenant/check", data={"csrf_token": CSRF.findall(page)[0]}
        )
        assert "Vérifié : le consentement est bien accordé." in visible(await checked.text())


def _people(path: Path) -> dict[str, Any]:
    text = path.read_text()
    config: dict[str, Any] = yaml.safe_load(text)
    assert config == json.loads(text.split("\n", 1)[1])  # JSON after the comment line
    assert config["version"] == "0.1.1" and config["tenantId"] == DEMO_TENANT_ID
    assert config["bot"]["id"] == DEMO_TEAMS_APP_ID
    assert len(config["users"]) == 5  # the Playground's schema wants exactly five
    for user in [config["currentUser"], *config["users"]]:
        assert set(user) == USER_FIELDS and user["aadObjectId"] == user["id"]
    return config


def test_the_playground_files_name_the_demo_tenant_and_people(served: tuple[Demo, Path]) -> None:
    demo, folder = served
    staff = {p.object_id: p for p in DEMO_STAFF}
    as_staff = _people(folder / ".m365agentsplayground.yml")
    assert as_staff["currentUser"]["aadObjectId"] == CLAIRE
    assert as_staff["currentUser"]["name"] == DEMO_STAFF[0].name
    others = [u["aadObjectId"] for u in as_staff["users"]]
    assert sum(o in staff for o in others) == 3  # colleagues, then guest contacts
    assert all(o.startswith("c0000000-") for o in others if o not in staff)

    as_contact = _people(folder / ".m365agentsplayground.contact.yml")
    assert as_contact["currentUser"]["aadObjectId"] == "c0000000-0000-4000-8000-000000000001"
    assert as_contact["currentUser"]["email"].endswith("@client-bla011.fr")

    banner = server_log(folder)
    command = f"npx @microsoft/m365agentsplayground -e {demo.url}/api/messages -c msteams"
    assert f"    {command}\n" in banner
    assert f"M365_AGENTS_PLAYGROUND_CONFIG_PATH=.m365agentsplayground.contact.yml {command}" in (
        banner
    )


def test_entra_and_graph_set_by_the_person_are_kept(tmp_path: Path) -> None:
    mine = Settings(_env_file=None, demo=True, graph_url="https://graph.lab/v1.0")  # type: ignore[call-arg]
    assert _at_graph_stand_in(mine, "https://127.0.0.1:1", tmp_path / "ca.pem") is None
    with pytest.raises(ValueError, match=re.escape("no such file: /nowhere/ca.pem")):
        Settings(_env_file=None, ca_bundle="/nowhere/ca.pem")

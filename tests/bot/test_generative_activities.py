"""Generated and mutated Teams activities against the real app (issue 11): whatever arrives at
``/api/messages``, the answer is a 4xx, an answer to the invoke, or a card, never a 5xx and never
a traceback in the logs; afterwards the bot still answers ``help``.

Each example starts from a shape Teams really sends (a typed line, a card's ``Action.Submit``
fallback, files, ``Action.Execute``, a typeahead, the app's installation, other invokes and
activity types) from a person of the demo firm or a stranger, then mutates it up to three times:
a field dropped, replaced by any JSON value, made huge, given control characters.

The app runs in demo mode (no bot authentication, so the activities reach the bot itself) on its
own server thread, as ``relais serve`` runs it; the examples are posted with ``requests``. The
number of examples is the Hypothesis profile's (``ci`` by default, ``long`` for a local hunt:
``--hypothesis-profile=long``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from bot.cards.execute import VERB
from bot.verbs import default_actions
from hub.settings import Settings
from relais.app import build_app
from relais.demo import DEMO_TENANT_ID
from tests.cards import cards_of, texts_of
from tests.fakes.activities import members_added, teams_message
from tests.fakes.connector import FakeBotConnector
from tests.fakes.server import ServerThread

ADMIN = "a0000000-0000-4000-8000-000000000001"
COLLABORATOR_EN = "a0000000-0000-4000-8000-000000000004"
GUEST_CONTACT = "c0000000-0000-4000-8000-000000000001"
STRANGER = "f0000000-0000-4000-8000-00000000dead"
PEOPLE = [ADMIN, ADMIN, COLLABORATOR_EN, GUEST_CONTACT, STRANGER]
FILE_INFO = "application/vnd.microsoft.teams.file.download.info"
# Nothing listens on the discard port: a file's download is refused at once.
DEAD_LINK = "http://127.0.0.1:9/download/file?tempauth=x"

WORDS = ["aide", "help", "historique", "history", "échecs", "failures", "statut", "status"]
WORDS += ["proposer", "propose", "inviter", "invite"]
VERBS = [*sorted(default_actions().verbs), "documents.place", "documents.cancel", "made.up"]
INVOKES = [
    "composeExtension/query",
    "composeExtension/submitAction",
    "task/fetch",
    "task/submit",
    "signin/verifyState",
    "fileConsent/invoke",
    "actionableMessage/executeAction",
    "config/fetch",
    "tab/fetch",
    "healthCheck",
    "",
]
OTHER_TYPES = ["typing", "messageReaction", "event", "installationUpdate", "endOfConversation"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x1b", "\x1f", "\ud800", "\udfff"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
texts = (
    st.sampled_from(WORDS)
    | st.text(max_size=40)
    | st.builds(lambda w, rest: f"{w} {rest}", st.sampled_from(WORDS), st.text(max_size=30))
)


@pytest.fixture
def relais(settings: Settings, demo: object, fake_bot_connector: FakeBotConnector) -> Iterator[str]:
    """The real app in demo mode on a server thread; its address."""
    with ServerThread(build_app(settings), name="relais") as server:
        yield server.url


def _person(data: st.DataObject, connector: FakeBotConnector) -> dict[str, Any]:
    return {
        "service_url": connector.url,
        "tenant_id": data.draw(st.sampled_from([DEMO_TENANT_ID, DEMO_TENANT_ID, "other-tenant"])),
        "user_aad_id": data.draw(st.sampled_from(PEOPLE)),
        "locale": data.draw(st.sampled_from(["fr-FR", "en-US", "de-DE", ""])),
    }


def _invoke(person: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    activity = teams_message("", **person)
    del activity["text"]
    activity.update(type="invoke", name=name, value=value)
    return activity


def _shape(data: st.DataObject, connector: FakeBotConnector) -> dict[str, Any]:
    """One activity as Teams sends it."""
    person = _person(data, connector)
    kind = data.draw(
        st.sampled_from(
            ["line", "submit", "files", "execute", "search", "installed", "invoke", "other"]
        )
    )
    card_data = data.draw(st.dictionaries(st.text(max_size=12), json_values, max_size=4))
    if kind == "line":
        return teams_message(data.draw(texts), **person)
    if kind == "submit":
        value = {VERB: data.draw(st.sampled_from(VERBS)), **card_data}
        return teams_message("", value=value, **person)
    if kind == "files":
        activity = teams_message("", **person)
        name = data.draw(st.text(max_size=20)) + ".pdf"
        activity["attachments"] = [
            {"contentType": FILE_INFO, "name": name, "content": {"downloadUrl": DEAD_LINK}}
        ]
        return activity
    if kind == "execute":
        action = {"type": "Action.Execute", "verb": data.draw(st.sampled_from(VERBS))}
        return _invoke(person, "adaptiveCard/action", {"action": {**action, "data": card_data}})
    if kind == "search":
        options = {"skip": data.draw(json_values), "top": data.draw(json_values)}
        value = {"queryText": data.draw(texts), "queryOptions": options, "dataset": "dossiers"}
        return _invoke(person, "application/search", value)
    if kind == "installed":
        return members_added(bot_added=data.draw(st.booleans()), **person)
    if kind == "invoke":
        name = data.draw(st.sampled_from(INVOKES) | st.text(max_size=20))
        return _invoke(person, name, data.draw(json_values))
    activity = teams_message("", **person)
    activity["type"] = data.draw(st.sampled_from(OTHER_TYPES) | st.text(max_size=12))
    return activity


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the activity (the whole body included), for a mutation to pick."""
    yield prefix
    if isinstance(value, dict | list):
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            yield from _paths(child, (*prefix, key))


def _at(body: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        body = body[key]
    return body


def _with_control(data: st.DataObject, value: Any) -> str:
    text = value if isinstance(value, str) else "x"
    where = data.draw(st.integers(0, len(text)))
    return text[:where] + data.draw(st.sampled_from(CONTROLS)) + text[where:]


def _mutate(data: st.DataObject, body: Any) -> Any:
    path = data.draw(st.sampled_from(list(_paths(body))))
    how = data.draw(st.sampled_from(["drop", "replace", "huge", "control"]))
    old = _at(body, path)
    if how == "drop" and path:
        parent = _at(body, path[:-1])
        del parent[path[-1]]
        return body
    new: Any
    if how == "huge":
        new = "é" * data.draw(st.sampled_from([5_000, 20_000, 70_000, 300_000]))
    elif how == "control":
        new = _with_control(data, old)
    else:
        new = data.draw(json_values)
    if not path:
        return new
    _at(body, path[:-1])[path[-1]] = new
    return body


def _activity(data: st.DataObject, connector: FakeBotConnector) -> Any:
    body: Any = _shape(data, connector)
    for _ in range(data.draw(st.integers(0, 3))):
        body = _mutate(data, body)
    return body


def test_generated_activities_never_get_a_5xx_nor_a_traceback(
    relais: str, fake_bot_connector: FakeBotConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    statuses: Counter[int] = Counter()
    http = requests.Session()

    @given(st.data())
    def post_one(data: st.DataObject) -> None:
        body = json.dumps(_activity(data, fake_bot_connector))
        response = http.post(
            f"{relais}/api/messages",
            data=body.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        statuses[response.status_code] += 1
        assert response.status_code < 500, (body[:2000], response.text[:2000])

    with http:
        post_one()
        tracebacks = [
            f"{r.name}: {r.getMessage()}"
            for r in caplog.records
            if r.levelno >= logging.ERROR and r.exc_info
        ]
        assert tracebacks == [], statuses
        before = len(fake_bot_connector.sent)
        help_line = teams_message(
            "help", service_url=fake_bot_connector.url, tenant_id=DEMO_TENANT_ID, user_aad_id=ADMIN
        )
        response = http.post(f"{relais}/api/messages", json=help_line, timeout=60)
    assert response.status_code in (200, 201)
    reply = fake_bot_connector.wait_for_sent(before + 1)[-1]
    assert texts_of(cards_of(reply.body)[0])[0] == "Relais — ce que je sais faire"

"""Reading the audit trail: filters, names, keyset pages, who sees what, firm isolation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.audit import AuditFilters, filter_choices, list_events, parse_filters
from hub.errors import InvalidInput
from hub.identity import Actor
from storage.models import AuditEvent
from tests import scenes

CLAIRE, MARC, JAMES = "Claire Durand", "Marc Lefèvre", "James Walker"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def firm(sessions: Any) -> scenes.FirmScene:
    return await scenes.firm(sessions, "Durand & Associés", domain="durand-associes.fr")


@pytest.fixture
async def people(sessions: Any, firm: scenes.FirmScene) -> dict[str, scenes.Person]:
    """An administrator, a rights manager (who reads everyone's events) and a collaborator."""
    return await scenes.team(
        sessions, firm, {CLAIRE: "administrator", MARC: "rights manager", JAMES: "collaborator"}
    )


@pytest.fixture
def actor(sessions: Any, firm: scenes.FirmScene, people: dict[str, scenes.Person]) -> Any:
    async def resolve(name: str = CLAIRE) -> Actor:
        return await scenes.actor(sessions, firm, people[name])

    return resolve


async def add_events(sessions: Any, firm_id: int, rows: list[tuple[str, str, datetime]]) -> None:
    async with sessions() as session, session.begin():
        for who, action, at in rows:
            session.add(
                AuditEvent(firm_id=firm_id, actor=who, action=action, at=at, target_type="dossier")
            )


async def test_keyset_pages_walk_every_event_once_even_with_equal_times(
    hub: Any, sessions: Any, firm: scenes.FirmScene, actor: Any
) -> None:
    claire = await actor()
    # Groups of three events share a timestamp: the id breaks ties.
    await add_events(
        sessions,
        firm.id,
        [(claire.ref, "t.walk", T0 + timedelta(minutes=i // 3)) for i in range(25)],
    )
    filters = AuditFilters(action="t.walk")
    seen: list[int] = []
    page = await list_events(hub, claire, filters, per_page=7)
    assert page.newer is None
    pages = [page]
    while page.older:
        page = await list_events(hub, claire, filters, after=page.older, per_page=7)
        pages.append(page)
    seen = [e.id for p in pages for e in p.items]
    assert len(seen) == 25 == len(set(seen))
    keys = [(e.at, e.id) for p in pages for e in p.items]
    assert keys == sorted(keys, reverse=True)
    # And back: the page before the last is the third one again.
    assert pages[-1].newer is not None
    back = await list_events(hub, claire, filters, before=pages[-1].newer, per_page=7)
    assert [e.id for e in back.items] == [e.id for e in pages[-2].items]


async def test_filters_by_actor_action_and_dates(
    hub: Any, sessions: Any, firm: scenes.FirmScene, actor: Any
) -> None:
    claire = await actor()
    marc = await actor(MARC)
    await add_events(
        sessions,
        firm.id,
        [
            (claire.ref, "t.a", T0),
            (marc.ref, "t.a", T0 + timedelta(days=1)),
            (marc.ref, "t.b", T0 + timedelta(days=2, hours=14)),  # 3 March, 23:00
        ],
    )
    by_marc = await list_events(hub, claire, AuditFilters(actor=marc.ref, since=date(2026, 3, 1)))
    assert [(e.actor_name, e.action) for e in by_marc.items] == [
        ("Marc Lefèvre", "t.b"),
        ("Marc Lefèvre", "t.a"),
    ]
    day = await list_events(
        hub, claire, AuditFilters(since=date(2026, 3, 3), until=date(2026, 3, 3))
    )
    assert [e.action for e in day.items] == ["t.b"]
    assert parse_filters({"since": "2026-03-03", "action": " t.a "}) == AuditFilters(
        action="t.a", since=date(2026, 3, 3)
    )
    with pytest.raises(InvalidInput):
        parse_filters({"until": "03/03/2026"})
    with pytest.raises(InvalidInput):
        await list_events(hub, claire, AuditFilters(), after="garbage")


async def test_collaborators_see_their_own_events_managers_see_all(
    hub: Any, sessions: Any, firm: scenes.FirmScene, actor: Any
) -> None:
    claire = await actor()
    james = await actor(JAMES)
    marc = await actor(MARC)
    await add_events(sessions, firm.id, [(claire.ref, "t.claire", T0), (james.ref, "t.james", T0)])
    own = await list_events(hub, james, AuditFilters(actor=claire.ref))
    assert own.own_only and {e.action for e in own.items} == {"t.james"}
    choices = await filter_choices(hub, james)
    assert choices.actors == [(james.ref, "James Walker")]
    assert choices.actions == ["t.james"]
    everyone = await list_events(hub, marc, AuditFilters())
    assert not everyone.own_only
    assert {"t.claire", "t.james"} <= {e.action for e in everyone.items}


async def test_another_firms_events_never_show(
    hub: Any, sessions: Any, firm: scenes.FirmScene, actor: Any
) -> None:
    bis = await scenes.firm(sessions, "Cabinet Bis", domain="bis.fr", catalog=False)
    claire = await actor()
    await add_events(sessions, bis.id, [(claire.ref, "t.other", T0)])
    for filters in (AuditFilters(), AuditFilters(action="t.other"), AuditFilters(actor=claire.ref)):
        page = await list_events(hub, claire, filters)
        assert "t.other" not in {e.action for e in page.items}
    assert "t.other" not in (await filter_choices(hub, claire)).actions

"""The dashboard's "Failed sends in Teams" form: a staff member chooses at once, once a day or
never for themselves (CSRF, a notice on success, a clear error otherwise), and it is audited."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from hub.services import Hub
from storage.models import AuditEvent, StaffUser
from tests.admin.conftest import JAMES, Client, csrf_of, visible

SOPHIE = "a0000000-0000-4000-8000-000000000003"

SignIn = Callable[..., Awaitable[str]]


def selected(page: str) -> str:
    form = page[page.index('id="failure-notices"') :]
    match = re.search(r'<option value="(\w+)" selected>', form[: form.index("</select>")])
    assert match, "no choice is selected"
    return match.group(1)


async def choice_of(hub: Hub, object_id: str) -> str:
    async with hub.sessions() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.entra_object_id == object_id))
    assert user is not None
    return user.failure_notices


async def test_a_staff_member_chooses_a_daily_digest(
    client: Client, signed_in: SignIn, hub: Hub
) -> None:
    page = await signed_in(SOPHIE, "/admin/dashboard")
    text = visible(page)
    assert "Envois en échec dans Teams" in text
    assert "Me prévenir des envois en échec dans Teams" in text
    assert "Tout de suite (un message par lot)" in text
    assert "Une fois par jour, à 08:00 (Europe/Paris)" in text and "Jamais" in text
    assert selected(page) == "immediate"

    response = await client.post(
        "/admin/dashboard/notices",
        data={"csrf_token": csrf_of(page), "failure_notices": "daily"},
    )
    assert response.status == 200 and str(response.url).endswith("/admin/dashboard")
    after = await response.text()
    assert (
        "Enregistré : Relais vous envoie un récapitulatif par jour dans Teams, à 08:00 "
        "(Europe/Paris)." in visible(after)
    )
    assert selected(after) == "daily"
    assert await choice_of(hub, SOPHIE) == "daily"
    async with hub.sessions() as session:
        event = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "staff.failure_notices")
        )
    assert event is not None and event.details == {"before": "immediate", "after": "daily"}


async def test_a_bad_choice_is_explained_and_changes_nothing(
    client: Client, signed_in: SignIn, hub: Hub
) -> None:
    page = await signed_in(JAMES, "/admin/dashboard")
    response = await client.post(
        "/admin/dashboard/notices",
        data={"csrf_token": csrf_of(page), "failure_notices": "hourly"},
    )
    assert response.status == 200
    assert "Choose how to be told: at once, once a day or never." in visible(await response.text())
    assert await choice_of(hub, JAMES) == "immediate"
    # Never, in English, then the notice says where the failures still are.
    response = await client.post(
        "/admin/dashboard/notices", data={"csrf_token": csrf_of(page), "failure_notices": "off"}
    )
    assert (
        "Saved: Relais no longer tells you of failed sends in Teams. They stay listed here."
        in visible(await response.text())
    )
    assert await choice_of(hub, JAMES) == "off"


async def test_without_the_csrf_token_nothing_changes(
    client: Client, signed_in: SignIn, hub: Hub
) -> None:
    await signed_in(SOPHIE, "/admin/dashboard")
    response = await client.post("/admin/dashboard/notices", data={"failure_notices": "off"})
    assert response.status == 403
    assert await choice_of(hub, SOPHIE) == "immediate"

"""The dashboard page through the real app: failed sends with filters, counts, the trend chart,
retry (selected and all matching), the activity view, and the CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable

import pytest

from hub.services import Hub
from relais.demo import DemoInfo
from storage.models import Delivery
from tests.admin.conftest import CLAIRE, JAMES, Client, csrf_of, visible
from tests.connectors.arrange import delivery
from tests.hub.test_history import Scene, arrange_scene

SOPHIE = "a0000000-0000-4000-8000-000000000003"

SignIn = Callable[..., Awaitable[str]]


@pytest.fixture
async def scene(hub: Hub, demo: DemoInfo) -> Scene:
    return await arrange_scene(hub, demo)


async def test_the_dashboard_lists_failures_in_plain_words(
    client: Client, signed_in: SignIn, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    response = await client.get("/admin/dashboard")
    assert response.status == 200
    page = await response.text()
    text = visible(page)
    assert "Tableau de bord" in text and "Envois en échec" in text
    assert "facture-0412.pdf" in text and "=cmd-0414.pdf" in text
    assert "Code dossier inconnu" in text
    assert (
        "L'application ne connaît pas ce code dossier : vérifiez le code dans la connexion" in text
    )
    assert "Fichier trop volumineux" in text
    # Counts by reason and application, and the trend as an accessible inline SVG.
    assert re.search(r'id="failure-total">3<', page)
    assert "OCR Factures — Achats" in text
    assert (
        '<svg class="chart"' in page and 'role="img"' in page and '<title id="trend-title">' in page
    )
    assert page.count('name="delivery"') == 3
    assert "style=" not in page  # CSP: no inline styles
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []  # CSP: no inline script


async def test_filters_narrow_the_list_and_bad_ones_are_explained(
    client: Client, signed_in: SignIn, scene: Scene
) -> None:
    await signed_in(CLAIRE)
    text = visible(await (await client.get("/admin/dashboard?reason=too_large")).text())
    assert "facture-0413.pdf" in text and "facture-0412.pdf" not in text
    page = await (await client.get(f"/admin/dashboard?dossier={scene.james_code}")).text()
    assert "facture-0413.pdf" in visible(page) and "=cmd-0414.pdf" not in visible(page)
    # A code typed in lower case, with spaces around it, is the same dossier (issue 13).
    typed = await (
        await client.get(f"/admin/dashboard?dossier=+{scene.james_code.lower()}+")
    ).text()
    assert "facture-0413.pdf" in visible(typed) and "=cmd-0414.pdf" not in visible(typed)
    bad = visible(await (await client.get("/admin/dashboard?since=nope")).text())
    assert "Cette date n'est pas valide" in bad
    unknown = await client.get("/admin/dashboard?dossier=NOPE999")
    assert unknown.status == 200
    assert "facture-0412.pdf" in visible(await unknown.text())


async def test_a_collaborator_sees_and_retries_only_their_portfolio(
    client: Client, signed_in: SignIn, scene: Scene, hub: Hub
) -> None:
    await signed_in(SOPHIE)
    page = await (await client.get("/admin/dashboard")).text()
    text = visible(page)
    assert "facture-0412.pdf" in text and "facture-0413.pdf" not in text
    target = scene.failed["facture-0412.pdf"]
    response = await client.post(
        "/admin/dashboard/retry",
        data={"csrf_token": csrf_of(page), "scope": "selected", "delivery": [str(target)]},
    )
    assert response.status == 200
    after = visible(await response.text())
    assert "1 envoi(s) remis en file" in after
    assert (await delivery(hub.sessions, target)).status == "pending"
    # Someone else's failure posted by hand is refused with the reason.
    other = scene.failed["facture-0413.pdf"]
    response = await client.post(
        "/admin/dashboard/retry",
        data={"csrf_token": csrf_of(page), "scope": "selected", "delivery": [str(other)]},
    )
    assert "Vous ne pouvez pas renvoyer ces documents" in visible(await response.text())
    assert (await delivery(hub.sessions, other)).status == "failed"


async def test_retry_all_matching_the_filters(
    client: Client, signed_in: SignIn, scene: Scene, hub: Hub
) -> None:
    page = await signed_in(CLAIRE, "/admin/dashboard?reason=too_large")
    response = await client.post(
        "/admin/dashboard/retry",
        data={"csrf_token": csrf_of(page), "scope": "matching", "reason": "too_large"},
    )
    text = visible(await response.text())
    assert "1 envoi(s) remis en file" in text
    assert str(response.url).endswith("/admin/dashboard?reason=too_large")
    statuses = {
        name: (await delivery(hub.sessions, delivery_id)).status
        for name, delivery_id in scene.failed.items()
    }
    assert statuses == {
        "facture-0412.pdf": "failed",
        "facture-0413.pdf": "pending",
        "=cmd-0414.pdf": "failed",
    }
    nothing = await client.post(
        "/admin/dashboard/retry", data={"csrf_token": csrf_of(page), "scope": "selected"}
    )
    assert "Cochez d'abord les envois à renvoyer" in visible(await nothing.text())


async def test_the_csv_export(client: Client, signed_in: SignIn, scene: Scene) -> None:
    await signed_in(JAMES)  # English; sees his own dossier only
    response = await client.get("/admin/dashboard/failures.csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    data = await response.read()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data[3:].decode()), delimiter=";"))
    assert rows[0][:3] == ["Queued at", "Failed at", "Dossier code"]
    assert [r[4] for r in rows[1:]] == ["facture-0413.pdf"]
    assert rows[1][7] == "File too large"

    await signed_in(CLAIRE)
    data = await (await client.get("/admin/dashboard/failures.csv?reason=format_refused")).read()
    rows = list(csv.reader(io.StringIO(data[3:].decode()), delimiter=";"))
    assert len(rows) == 2 and rows[1][4] == "'=cmd-0414.pdf"  # no formula for Excel
    assert rows[1][7] in ("Format refusé", "Format refused")


async def test_the_activity_view(client: Client, signed_in: SignIn, scene: Scene, hub: Hub) -> None:
    async with hub.sessions() as session, session.begin():
        row = await session.get(Delivery, scene.failed["facture-0412.pdf"] + 1)
        assert row is not None and row.status == "pending"
        row.status, row.sent_at = "sent", row.created_at
    await signed_in(JAMES)
    page = await (await client.get("/admin/dashboard?view=activity")).text()
    text = visible(page)
    assert (
        "Activity" in text and "Documents received" in text and "Median upload → delivery" in text
    )
    assert '<svg class="chart"' in page and "<polyline" in page
    assert re.search(r'id="pending">1<', page)  # James's dossier: one waiting

    await signed_in(CLAIRE)
    page = await (await client.get("/admin/dashboard?view=activity")).text()
    text = visible(page)
    assert "0 s" in text  # the median: sent the instant it arrived
    assert re.search(r'id="pending">4<', page)
    assert "Gestion juridique" in text


async def test_the_navigation_leads_to_the_dashboard(client: Client, signed_in: SignIn) -> None:
    page = await signed_in(CLAIRE, "/admin/dashboard")
    assert 'href="/admin/dashboard" aria-current="page"' in page
    assert "Aucun échec" in visible(page)

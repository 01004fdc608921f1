"""History and dashboards with a full outbox: one document's history, the failed-sends list (first
and deep keyset pages, with filters), the counts, the trend and the activity figures, each beside a
plain primary-key SELECT of one delivery row (the floor: one round trip through the same engine).

    python bench/history.py                                 # 1,000,000 deliveries, 10,000 dossiers
    python bench/history.py --deliveries 200000 --dossiers 2000
    python bench/history.py --explain                       # print every statement's query plan
    python bench/history.py --database-url postgresql://postgres@127.0.0.1:5432/bench_history

The database is built first with bulk Core inserts (explicit ids, batches of 20,000 rows): the
demo firm with ``--dossiers`` dossiers, two applications connected to every dossier, one document
per two deliveries, one attempt per delivery; 90 % sent, 8 % failed (every reason), 2 % pending,
spread over 90 days. A database given by URL is migrated here; one that already holds the bench's documents (from an
earlier run with the same URL) is measured again as it is, without building.

Each figure is the p50/p99 of ``--repeat`` calls of the hub function the faces call, printed as one
JSON line. To measure something more, add a function decorated with ``@measure("name")``: it
receives the :class:`Bench` (hub, actors, ids, cursors, the bot) and is called ``--repeat`` times.

The bot's ``history`` command is measured end to end: the app (``relais.app.build_app``, the real
CloudAdapter) served on loopback in this process, a Teams-shaped message POSTed to
``/api/messages``, the turn done when the answer card has reached the fake Bot Connector
(``tests/fakes``, its own thread) and ``/api/messages`` has answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402
from sqlalchemy import event, func, insert, select, text  # noqa: E402

from connectors.outcomes import FAILURE_REASONS  # noqa: E402
from hub.dashboards import (  # noqa: E402
    FailureFilters,
    activity,
    failure_counts,
    failure_trend,
    failures,
)
from hub.history import document_history, dossier_status, find_documents  # noqa: E402
from hub.identity import Actor, resolve  # noqa: E402
from hub.services import Hub  # noqa: E402
from hub.settings import Settings  # noqa: E402
from relais.app import build_app  # noqa: E402
from relais.demo import DemoInfo, seed  # noqa: E402
from relais.services import build_services  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    CatalogApp,
    Connection,
    ConnectionFolder,
    Delivery,
    DeliveryAttempt,
    Document,
    DocumentVersion,
    Dossier,
    FirmApplication,
    Folder,
    StaffUser,
)
from tests.fakes.activities import teams_message  # noqa: E402
from tests.fakes.connector import FakeBotConnector  # noqa: E402

BATCH = 20_000
DAYS = 90
DEEP_PAGE = 500


@dataclass
class Bench:
    hub: Hub
    admin: Actor
    collaborator: Actor
    documents: int
    app_ids: list[int]
    dossier_codes: list[str]
    info: DemoInfo | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    cursors: dict[str, str] = field(default_factory=dict)
    bot: BotDriver | None = None


@dataclass
class BotDriver:
    """Talks to the app as Teams does: a message to ``/api/messages``, the answer read at the fake
    Bot Connector (its ``serviceUrl``)."""

    server: TestServer
    client: ClientSession
    connector: FakeBotConnector
    tenant_id: str

    @classmethod
    async def start(cls, settings: Settings, tenant_id: str) -> BotDriver:
        connector = FakeBotConnector().start()
        server = TestServer(build_app(settings))
        await server.start_server()
        return cls(server, ClientSession(), connector, tenant_id)

    async def say(self, text: str, user: str, locale: str = "en-US") -> dict[str, Any]:
        """One turn; the card it answered with."""
        before = len(self.connector.sent)
        activity = teams_message(
            text,
            service_url=self.connector.url,
            tenant_id=self.tenant_id,
            user_aad_id=user,
            locale=locale,
        )
        async with self.client.post(self.server.make_url("/api/messages"), json=activity) as r:
            if r.status not in (200, 201):
                raise SystemExit(f"/api/messages answered {r.status}: {await r.text()}")
        reply = (await self.connector.await_sent(before + 1))[before]
        (card,) = reply.adaptive_cards
        return card

    async def stop(self) -> None:
        await self.client.close()
        await self.server.close()
        self.connector.stop()


Measure = Callable[[Bench], Awaitable[Any]]
MEASURES: list[tuple[str, Measure]] = []


def measure(name: str) -> Callable[[Measure], Measure]:
    def register(fn: Measure) -> Measure:
        MEASURES.append((name, fn))
        return fn

    return register


# --------------------------------------------------------------------------- the figures


@measure("baseline: SELECT one delivery by primary key")
async def _baseline(b: Bench) -> None:
    async with b.hub.sessions() as session:
        await session.execute(
            select(Delivery).where(Delivery.id == b.rng.randint(1, b.documents * 2))
        )


@measure("document_history (one document, its versions, deliveries and attempts)")
async def _history(b: Bench) -> None:
    await document_history(b.hub, b.admin, b.rng.randint(1, b.documents))


@measure("failures: first page, no filter (administrator)")
async def _first(b: Bench) -> None:
    await failures(b.hub, b.admin)


@measure("failures: first page, filter application + reason")
async def _first_filtered(b: Bench) -> None:
    await failures(
        b.hub, b.admin, FailureFilters(application=b.app_ids[0], reason="dossier_unknown")
    )


@measure("failures: first page, filter dossier code")
async def _first_dossier(b: Bench) -> None:
    await failures(b.hub, b.admin, FailureFilters(dossier=b.rng.choice(b.dossier_codes)))


@measure("failures: first page, filter last 7 days")
async def _first_dates(b: Bench) -> None:
    today = datetime.now(UTC).date()
    await failures(b.hub, b.admin, FailureFilters(since=today - timedelta(days=7), until=today))


@measure("failures: first page, collaborator (their portfolio only)")
async def _first_collaborator(b: Bench) -> None:
    await failures(b.hub, b.collaborator)


@measure(f"failures: deep page (page {DEEP_PAGE + 1}), no filter (keyset)")
async def _deep(b: Bench) -> None:
    await failures(b.hub, b.admin, after=b.cursors["deep"])


@measure(f"failures: deep page (page {DEEP_PAGE // 2 + 1}), filter application (keyset)")
async def _deep_filtered(b: Bench) -> None:
    await failures(
        b.hub, b.admin, FailureFilters(application=b.app_ids[0]), after=b.cursors["deep_app"]
    )


@measure("failure_counts (by reason and by application), no filter")
async def _counts(b: Bench) -> None:
    await failure_counts(b.hub, b.admin)


@measure("failure_trend (30 days), no filter")
async def _trend(b: Bench) -> None:
    await failure_trend(b.hub, b.admin)


@measure("activity (30 days: received, sent per application, median, queue)")
async def _activity(b: Bench) -> None:
    await activity(b.hub, b.admin)


@measure("find_documents (the bot's history search), administrator")
async def _find(b: Bench) -> None:
    await find_documents(b.hub, b.admin, f"facture-{b.rng.randint(0, b.documents - 1):07d}")


@measure("find_documents, collaborator")
async def _find_collaborator(b: Bench) -> None:
    await find_documents(b.hub, b.collaborator, f"facture-{b.rng.randint(0, b.documents):07d}")


@measure("bot: help command end to end (the floor of a turn: no query, a fixed card)")
async def _help_turn(b: Bench) -> None:
    assert b.bot is not None and b.info is not None
    await b.bot.say("help", b.info.person("administrator").object_id)


@measure("bot: history command end to end (administrator, one turn through /api/messages)")
async def _history_turn(b: Bench) -> None:
    assert b.bot is not None and b.info is not None
    name = f"facture-{b.rng.randint(0, b.documents - 1):07d}"
    await b.bot.say(f"history {name}", b.info.person("administrator").object_id)


@measure("bot: history command end to end, a word in every name (the first matches end the scan)")
async def _history_turn_common(b: Bench) -> None:
    assert b.bot is not None and b.info is not None
    await b.bot.say("history facture", b.info.person("administrator").object_id)


@measure("bot: history command end to end (collaborator, their portfolio)")
async def _history_turn_collaborator(b: Bench) -> None:
    assert b.bot is not None and b.info is not None
    name = f"facture-{b.rng.randint(0, b.documents - 1):07d}"
    await b.bot.say(f"historique {name}", b.info.person("collaborator").object_id, "fr-FR")


@measure("dossier_status (the bot's status command)")
async def _status(b: Bench) -> None:
    await dossier_status(b.hub, b.admin, b.rng.choice(b.dossier_codes))


# --------------------------------------------------------------------------- building


async def build(settings: Settings, deliveries: int, dossiers: int) -> tuple[Hub, Bench, float]:
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    info = await seed(sessions, dossier_count=dossiers)
    hub = build_services(settings, sessions)
    firm = info.firm_id
    async with sessions() as session:
        existing = await session.scalar(select(Document.id).limit(1))
    if existing is not None:
        # Built by an earlier run (same --database-url): measure it again as it is.
        async with sessions() as session:
            documents = int(await session.scalar(select(func.count()).select_from(Document)) or 0)
            apps = list(
                await session.scalars(select(FirmApplication.id).order_by(FirmApplication.id))
            )
            codes = list(await session.scalars(select(Dossier.code)))
        admin = await resolve(sessions, info.tenant_id, info.person("administrator").object_id)
        collaborator = await resolve(
            sessions, info.tenant_id, info.person("collaborator").object_id
        )
        bench = Bench(hub, admin, collaborator, documents, apps, codes, info)
        return hub, bench, time.perf_counter() - started
    async with sessions() as session, session.begin():
        apps = []
        for slug in ("ocr-achats", "juridique"):
            app = await session.scalar(select(CatalogApp).where(CatalogApp.slug == slug))
            assert app is not None
            firm_app = FirmApplication(
                firm_id=firm, catalog_app_id=app.id, api_url="https://127.0.0.1:9/"
            )
            session.add(firm_app)
            await session.flush()
            apps.append(firm_app.id)
        folder = await session.scalar(
            select(Folder).where(Folder.firm_id == firm, Folder.path == "Achats/2025")
        )
        assert folder is not None
        dossier_ids = list(
            await session.scalars(
                select(Dossier.id).where(Dossier.firm_id == firm).order_by(Dossier.id)
            )
        )
        codes = list(await session.scalars(select(Dossier.code).where(Dossier.firm_id == firm)))
        rows = [
            {"firm_id": firm, "firm_application_id": app, "dossier_id": d}
            for d in dossier_ids
            for app in apps
        ]
        for start in range(0, len(rows), BATCH):
            await session.execute(insert(Connection), rows[start : start + BATCH])
        connection_of = {
            (app, d): c
            for c, app, d in await session.execute(
                select(Connection.id, Connection.firm_application_id, Connection.dossier_id)
            )
        }
        links = [
            {"firm_id": firm, "connection_id": c, "folder_id": folder.id}
            for c in connection_of.values()
        ]
        for start in range(0, len(links), BATCH):
            await session.execute(insert(ConnectionFolder), links[start : start + BATCH])
        staff = [f"staff:{i}" for i in await session.scalars(select(StaffUser.id).limit(4))] + [
            "cli"
        ]

    documents = deliveries // 2
    now = datetime.now(UTC)
    rng = random.Random(1789)
    reasons = list(FAILURE_REASONS)
    for start in range(0, documents, BATCH):
        chunk = range(start, min(documents, start + BATCH))
        docs, versions, sends, attempts = [], [], [], []
        for i in chunk:
            ident = i + 1
            dossier = dossier_ids[i % len(dossier_ids)]
            at = now - timedelta(seconds=rng.random() * DAYS * 86400)
            docs.append(
                {
                    "id": ident,
                    "firm_id": firm,
                    "dossier_id": dossier,
                    "folder_id": folder.id,
                    "name": f"facture-{i:07d}.pdf",
                    "created_at": at,
                }
            )
            versions.append(
                {
                    "id": ident,
                    "firm_id": firm,
                    "document_id": ident,
                    "number": 1,
                    "sha256": f"{ident:064x}",
                    "size": 40_000 + i % 5000,
                    "content_type": "application/pdf",
                    "uploaded_by": staff[i % len(staff)],
                    "source": "panel",
                    "created_at": at,
                }
            )
            for k, app_id in enumerate(apps):
                delivery_id = ident * 2 - 1 + k
                roll = rng.random()
                status = "sent" if roll < 0.90 else "failed" if roll < 0.98 else "pending"
                sent_at = at + timedelta(seconds=5 + rng.random() * 600)
                sends.append(
                    {
                        "id": delivery_id,
                        "firm_id": firm,
                        "document_version_id": ident,
                        "connection_id": connection_of[(app_id, dossier)],
                        "dossier_id": dossier,
                        "idempotency_key": f"k{delivery_id}",
                        "status": status,
                        "failure_reason": rng.choice(reasons) if status == "failed" else None,
                        "attempts": 1 if status != "pending" else 0,
                        "next_attempt_at": at,
                        "app_reference": f"REF-{delivery_id}" if status == "sent" else "",
                        "created_at": at,
                        "sent_at": sent_at if status == "sent" else None,
                    }
                )
                if status != "pending":
                    attempts.append(
                        {
                            "firm_id": firm,
                            "delivery_id": delivery_id,
                            "at": sent_at,
                            "outcome": "sent" if status == "sent" else "refused",
                            "detail": "reference REF" if status == "sent" else "refused: 404",
                        }
                    )
        async with sessions() as session, session.begin():
            await session.execute(insert(Document), docs)
            await session.execute(insert(DocumentVersion), versions)
            await session.execute(insert(Delivery), sends)
            await session.execute(insert(DeliveryAttempt), attempts)
    async with engine.connect() as connection:
        if settings.is_sqlite:
            await connection.execute(text("ANALYZE"))
        else:
            await connection.execute(text("COMMIT"))
            await connection.execute(text("ANALYZE"))
    admin = await resolve(sessions, info.tenant_id, info.person("administrator").object_id)
    collaborator = await resolve(sessions, info.tenant_id, info.person("collaborator").object_id)
    bench = Bench(hub, admin, collaborator, documents, apps, codes, info)
    return hub, bench, time.perf_counter() - started


async def cursors(bench: Bench) -> dict[str, int]:
    """Walk the keyset pages once to reach the deep ones (the way a person paging would): page
    ``DEEP_PAGE + 1`` unfiltered and ``DEEP_PAGE // 2 + 1`` for one application, or the last
    pages there are when the database is smaller. Returns the page numbers reached."""
    reached = {}
    for key, filters, depth in (
        ("deep", FailureFilters(), DEEP_PAGE),
        ("deep_app", FailureFilters(application=bench.app_ids[0]), DEEP_PAGE // 2),
    ):
        after: str | None = None
        for number in range(1, depth + 1):
            page = await failures(bench.hub, bench.admin, filters, after=after)
            if page.next_after is None:
                break
            after = page.next_after
            reached[key] = number + 1
        if after is None:
            raise SystemExit("too few failures for a second page: use more deliveries")
        bench.cursors[key] = after
    return reached


# --------------------------------------------------------------------------- running


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/history.db"
    settings = Settings(
        _env_file=None,
        database_url=url,
        demo=True,
        data_dir=Path(tempfile.mkdtemp()),
        encryption_key="bench-history",
    )
    hub, bench, built = await build(settings, args.deliveries, args.dossiers)
    print(
        json.dumps(
            {
                "built": f"{args.deliveries} deliveries, {args.deliveries // 2} documents, "
                f"{args.dossiers} dossiers",
                "database": "sqlite" if settings.is_sqlite else "postgresql",
                "seconds": round(built, 1),
            }
        ),
        flush=True,
    )
    print(json.dumps({"deep_pages": await cursors(bench)}), flush=True)
    if any(name.startswith("bot:") and args.only in name for name, _ in MEASURES):
        assert bench.info is not None
        # The failed-send notices' background round is not part of a turn: off, so that it
        # does not run beside the turns measured (at 1M it settles ~75,000 old failures).
        quiet = settings.model_copy(update={"notice_interval_seconds": 0})
        bench.bot = await BotDriver.start(quiet, bench.info.tenant_id)
        # One turn first, checked: the figures are of real answers, not of refusals.
        card = await bench.bot.say(
            "history facture-0000000", bench.info.person("administrator").object_id
        )
        shown = [c["items"][0]["text"] for c in card["body"] if c.get("type") == "Container"]
        if shown != ["facture-0000000.pdf"]:
            raise SystemExit(f"the history command did not find the document: {card}")
    engine = hub.sessions.kw["bind"]
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    for name, fn in MEASURES:
        if args.only and args.only not in name:
            continue
        for _ in range(args.warmup):
            await fn(bench)
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            await fn(bench)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            json.dumps(
                {
                    "figure": name,
                    "p50_ms": round(statistics.median(timings), 2),
                    "p99_ms": round(percentile(timings, 0.99), 2),
                    "runs": args.repeat,
                }
            ),
            flush=True,
        )
        if args.explain:
            captured.clear()
            event.listen(engine.sync_engine, "before_cursor_execute", capture)
            try:
                await fn(bench)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", capture)
            await explain(engine, settings.is_sqlite, list(captured))
    if bench.bot is not None:
        await bench.bot.stop()
    await engine.dispose()


async def explain(engine: Any, sqlite: bool, statements: list[tuple[str, Any]]) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        for statement, parameters in statements:
            print("    " + " ".join(statement.split())[:400])
            if sqlite:
                cursor = await raw.driver_connection.execute(
                    "EXPLAIN QUERY PLAN " + statement, parameters
                )
                for row in await cursor.fetchall():
                    print(f"      {row[3]}")
            else:
                # asyncpg: the statement uses $1… placeholders, as captured.
                rows = await raw.driver_connection.fetch("EXPLAIN " + statement, *parameters)
                for row in rows:
                    print(f"      {row[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--dossiers", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print each statement's plan")
    parser.add_argument("--only", default="", help="measure only figures whose name has this")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

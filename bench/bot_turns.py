"""Bot turns under load: N simulated Teams users send ``help`` at once to a real ``relais serve``.

    python bench/bot_turns.py                       # 200 users × 5 turns, SQLite
    python bench/bot_turns.py --users 50 --turns 2  # smaller
    python bench/bot_turns.py --database-url postgresql://postgres@127.0.0.1:5432/test

Both servers run in their own process on loopback and reply through the same fake Bot Connector
(tests/fakes), so a turn is measured from the activity's POST to the answer, with the reply
already recorded by the connector. The baseline, measured in the same run, is a bare aiohttp
endpoint that posts a fixed card to the connector and answers 201: what an empty bot costs here.
Prints one JSON object per figure: turns per second and p50/p99 turn latency, each with the
baseline and the ratio (Relais ÷ baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.processes import free_port, listening  # noqa: E402
from tests.fakes.activities import teams_message  # noqa: E402
from tests.fakes.connector import FakeBotConnector  # noqa: E402

FIXED_CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "Relais — what I can do", "wrap": True}],
}


# --------------------------------------------------------------------------- the baseline server


def serve_baseline(port: int) -> None:
    from aiohttp import ClientSession, web

    async def session_ctx(app: web.Application) -> object:
        app["client"] = ClientSession()
        yield
        await app["client"].close()

    async def messages(request: web.Request) -> web.Response:
        activity = await request.json()
        conversation = activity["conversation"]["id"]
        url = f"{activity['serviceUrl'].rstrip('/')}/v3/conversations/{conversation}/activities/{activity['id']}"
        reply = {
            "type": "message",
            "replyToId": activity["id"],
            "conversation": activity["conversation"],
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": FIXED_CARD}
            ],
        }
        async with request.app["client"].post(url, json=reply) as response:
            await response.read()
        return web.Response(status=201)

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)  # type: ignore[arg-type]
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --------------------------------------------------------------------------- preparing Relais


async def prepare_database(url: str, users: int) -> tuple[str, list[str]]:
    """Migrate, seed the demo firm, and add one staff member per simulated user."""
    from sqlalchemy import select

    from relais.demo import seed
    from storage.db import create_engine, session_factory
    from storage.migrate import upgrade_async
    from storage.models import StaffUser

    await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    info = await seed(sessions)
    ids = [f"b0000000-0000-4000-8000-{i:012d}" for i in range(users)]
    async with sessions() as session, session.begin():
        known = set(await session.scalars(select(StaffUser.entra_object_id)))
        for i, oid in enumerate(ids):
            if oid not in known:
                session.add(
                    StaffUser(
                        firm_id=info.firm_id,
                        entra_object_id=oid,
                        email=f"bench{i}@bench.example",
                        display_name=f"Bench {i}",
                        locale="fr" if i % 2 else "en",
                    )
                )
    await engine.dispose()
    return info.tenant_id, ids


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return listening(cmd, port, env)


# --------------------------------------------------------------------------- the load


async def drive(
    port: int, connector: FakeBotConnector, tenant: str, users: list[str], turns: int
) -> tuple[float, list[float]]:
    """Every user sends ``turns`` messages one after the other; all users at once."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=len(users), max_keepalive_connections=len(users))
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120
    ) as client:

        async def user(index: int, oid: str) -> None:
            for _ in range(turns):
                activity = teams_message(
                    "help" if index % 2 == 0 else "aide",
                    service_url=connector.url,
                    tenant_id=tenant,
                    user_aad_id=oid,
                    locale="en-US" if index % 2 == 0 else "fr-FR",
                    conversation_id=f"a:bench-{oid}",
                )
                activity["id"] = str(uuid.uuid4())
                began = time.perf_counter()
                response = await client.post("/api/messages", json=activity)
                latencies.append(time.perf_counter() - began)
                if response.status_code not in (200, 201):
                    raise SystemExit(
                        f"turn failed: HTTP {response.status_code} {response.text[:300]}"
                    )

        # One warm-up turn per server so connection set-up and first-use caches are not measured.
        await user(0, users[0])
        latencies.clear()
        before = len(connector.sent)
        began = time.perf_counter()
        await asyncio.gather(*(user(i, oid) for i, oid in enumerate(users)))
        elapsed = time.perf_counter() - began
    expected = len(users) * turns
    received = len(connector.sent) - before
    if received != expected:
        raise SystemExit(f"the connector received {received} replies for {expected} turns")
    return expected / elapsed, latencies


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5, help="messages per user")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--serve-baseline", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return

    workdir = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    tenant, users = asyncio.run(prepare_database(url, args.users))

    connector = FakeBotConnector().start()
    env = {
        **os.environ,
        "RELAIS_DEMO": "true",
        "RELAIS_DATABASE_URL": url,
        "RELAIS_DATA_DIR": str(workdir),
        "RELAIS_LOG_LEVEL": "WARNING",
        "RELAIS_BOT_APP_ID": "",
    }
    results: dict[str, tuple[float, list[float]]] = {}
    try:
        for name, cmd in (
            ("baseline", [sys.executable, __file__, "--serve-baseline", "{port}"]),
            ("relais", [sys.executable, "-m", "relais", "serve", "--port", "{port}"]),
        ):
            port = free_port()
            server = start([part.format(port=port) for part in cmd], env, port)
            try:
                results[name] = asyncio.run(drive(port, connector, tenant, users, args.turns))
            finally:
                server.terminate()
                server.wait(10)
    finally:
        connector.stop()

    (tps, lat), (base_tps, base_lat) = results["relais"], results["baseline"]
    figures = [
        ("bot_turns_per_second", tps, base_tps, "turns/s"),
        ("bot_turn_latency_p50", percentile(lat, 50) * 1000, percentile(base_lat, 50) * 1000, "ms"),
        ("bot_turn_latency_p99", percentile(lat, 99) * 1000, percentile(base_lat, 99) * 1000, "ms"),
    ]
    for metric, value, baseline, unit in figures:
        print(
            json.dumps(
                {
                    "metric": metric,
                    "value": round(value, 2),
                    "unit": unit,
                    "baseline": round(baseline, 2),
                    "ratio": round(value / baseline, 2),
                    "users": args.users,
                    "turns_per_user": args.turns,
                    "database": url.split(":", 1)[0],
                }
            )
        )


if __name__ == "__main__":
    main()

"""Bulk work an administrator does in one click: import 10,000 dossiers, attach an application to all.

    python bench/bulk.py                          # 10,000 dossiers, SQLite
    python bench/bulk.py --dossiers 2000
    python bench/bulk.py --database-url postgresql://postgres@127.0.0.1:5432/bench

Each figure is the wall time of one call of the use-case the panel calls (`hub.imports.import_dossiers`,
the wizard's validation in `hub.applications`), on a fresh database holding the demo firm. The
baseline, measured in the same run on the same database, is the floor for the same rows: one
SQLAlchemy Core `INSERT` of the same rows into the same table, with no checks, no audit and no
upsert. Prints one JSON object per figure, with the baseline and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, insert, select  # noqa: E402

from hub.identity import Actor, staff_actor  # noqa: E402
from hub.imports import import_dossiers  # noqa: E402
from hub.services import Hub  # noqa: E402
from hub.settings import Settings  # noqa: E402
from relais.demo import seed  # noqa: E402
from relais.services import build_services  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import Connection, Dossier, Firm, StaffUser  # noqa: E402


def dossier_file(count: int, master_email: str) -> bytes:
    lines = ["code;name;status;master_email;engagement_manager_email"]
    lines += [f"BLK{i:05d};Société Bench {i} SARL;active;{master_email};" for i in range(count)]
    return ("\n".join(lines) + "\n").encode("utf-8")


async def timed(coro: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = await coro
    return time.perf_counter() - began, result


async def baseline_dossiers(hub: Hub, firm_id: int, count: int) -> float:
    """The floor: the same rows in one Core INSERT, rolled back so the real import starts clean."""
    rows = [
        {
            "firm_id": firm_id,
            "code": f"BLK{i:05d}",
            "name": f"Société Bench {i} SARL",
            "status": "active",
        }
        for i in range(count)
    ]
    async with hub.sessions() as session:
        transaction = await session.begin()
        began = time.perf_counter()
        await session.execute(insert(Dossier), rows)
        elapsed = time.perf_counter() - began
        await transaction.rollback()
    return elapsed


async def baseline_connections(hub: Hub, firm_id: int, firm_application_id: int) -> float:
    """The floor: the same links in one Core INSERT (after removing the real ones), rolled back."""
    async with hub.sessions() as session:
        transaction = await session.begin()
        ids = list(await session.scalars(select(Dossier.id).where(Dossier.firm_id == firm_id)))
        await session.execute(
            delete(Connection).where(Connection.firm_application_id == firm_application_id)
        )
        rows = [
            {"firm_id": firm_id, "firm_application_id": firm_application_id, "dossier_id": i}
            for i in ids
        ]
        began = time.perf_counter()
        await session.execute(insert(Connection), rows)
        elapsed = time.perf_counter() - began
        await transaction.rollback()
    return elapsed


def figure(metric: str, value: float, baseline: float, **extra: Any) -> str:
    return json.dumps(
        {
            "metric": metric,
            "value": round(value * 1000, 1),
            "unit": "ms",
            "baseline": round(baseline * 1000, 1),
            "ratio": round(value / baseline, 2),
            **extra,
        }
    )


async def run(url: str, count: int) -> list[str]:
    await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    info = await seed(sessions)
    settings = Settings(_env_file=None, demo=True, database_url=url)  # type: ignore[call-arg]
    hub = build_services(settings, sessions)
    async with sessions() as session:
        firm = await session.get(Firm, info.firm_id)
        admin = await session.scalar(
            select(StaffUser).where(
                StaffUser.firm_id == info.firm_id, StaffUser.role == "administrator"
            )
        )
    assert firm is not None and admin is not None
    actor: Actor = staff_actor(firm, admin)
    backend = url.split(":", 1)[0]
    data = dossier_file(count, admin.email)

    base = await baseline_dossiers(hub, firm.id, count)
    took, report = await timed(import_dossiers(hub, actor, data))
    assert report.created == count, report
    again, report = await timed(import_dossiers(hub, actor, data))
    assert report.unchanged == count, report
    lines = [
        figure("import_dossiers_new", took, base, rows=count, database=backend),
        figure("import_dossiers_unchanged", again, base, rows=count, database=backend),
    ]
    lines += await apply_to_all(hub, actor, firm.id, count, backend)
    await engine.dispose()
    return lines


async def apply_to_all(hub: Hub, actor: Actor, firm_id: int, count: int, backend: str) -> list[str]:
    """The wizard's step 2 "apply to all" then Validate, as the panel calls them."""
    from hub import applications as apps

    definition = apps.Definition(
        app="ocr-achats",
        api_key_id="K-BENCH",
        secret="s",
        api_url="https://ocr.example",
        sic_code="SIC-75001",
    )
    draft = await apps.save_draft(hub, actor, definition)
    choose, chosen = await timed(apps.select_all(hub, actor, draft))
    validate, added = await timed(apps.validate_draft(hub, actor, draft))
    total = count + 200  # the imported dossiers and the demo firm's own
    assert chosen == total and added.dossiers == total, (chosen, added)
    base = await baseline_connections(hub, firm_id, added.id)
    return [
        figure("apply_to_all_select", choose, base, rows=total, database=backend),
        figure("apply_to_all_validate", validate, base, rows=total, database=backend),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=10_000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    url = (
        args.database_url
        or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='relais-bulk-')) / 'bulk.db'}"
    )
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    for line in asyncio.run(run(url, args.dossiers)):
        print(line)


if __name__ == "__main__":
    main()

"""A delivery worker in its own process, built as ``relais worker`` builds it (settings → hub
services → worker), for the crash and multi-worker tests::

    python -m tests.connectors.worker_process --database-url URL --data-dir DIR \
        --encryption-key KEY [--lease 2] [--concurrency 4] [--batch 8]

Stops on SIGTERM; SIGKILL is the crash being tested.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from connectors.worker import WorkerConfig
from hub.settings import Settings
from relais.app import build_worker
from relais.services import build_services
from storage.db import create_engine, session_factory


async def serve(args: argparse.Namespace) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=args.database_url,
        data_dir=Path(args.data_dir),
        encryption_key=args.encryption_key,
        demo=True,
    )
    engine = create_engine(settings.database_url)
    hub = build_services(settings, session_factory(engine))
    worker = build_worker(
        hub,
        WorkerConfig(
            lease_seconds=args.lease,
            concurrency=args.concurrency,
            batch_size=args.batch,
            poll_interval=args.poll,
            request_timeout=min(30.0, args.lease / 2),
        ),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        await worker.run(stop)
    finally:
        await worker.aclose()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--encryption-key", required=True)
    parser.add_argument("--lease", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--poll", type=float, default=0.1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()

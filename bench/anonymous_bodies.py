"""Anonymous oversized bodies at ``/api/messages``: what they cost a real ``relais serve``.

    python bench/anonymous_bodies.py                        # 20 bodies of 24 MB at once, SQLite
    python bench/anonymous_bodies.py --count 50 --size-mb 8
    python bench/anonymous_bodies.py --database-url postgresql://postgres@127.0.0.1:5432/test

The server runs in its own process with Bot Framework authentication on (a bot app id; channel
tokens checked against the fake channel issuer of tests/fakes, so nothing leaves the machine).
``count`` clients post ``size`` MB each at once without an Authorization header, half announcing
their length, half chunked (no length). Every one must be refused (401 or 413). Prints one JSON
object per figure:

* ``rss_growth_<count>x<size>MB``: the server's resident memory after the burst minus before
  (``/proc/<pid>/status`` VmRSS), ``baseline`` the RSS before, ``ratio`` after ÷ before;
* ``peak_rss_growth_...``: the same with VmHWM (the peak), which catches memory given back since;
* ``refusal_latency_p50`` / ``_max``: from sending the headers of a request announcing ``size``
  MB (and nothing more) to the server's status line, ``count`` of them at once, before the
  burst; ``refusal_latency_after_burst_p50`` the same just after it (the server still drains);
* ``burst_seconds``: the burst's wall time, the uploads included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.processes import free_port, listening, python_module  # noqa: E402
from tests.fakes.channel import FakeChannelIssuer  # noqa: E402

BOT_APP_ID = "00000000-0000-4000-8000-0000000b0700"
MB = 1024 * 1024
LATENCY_TIMEOUT = 10.0  # seconds; a server that waits for the announced body never answers


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def server_env(database_url: str, data_dir: Path, metadata_url: str) -> dict[str, str]:
    """``relais serve`` with authentication on, in demo mode only for its other checks (mail,
    https base URL): the bot app id alone decides whether activities must be signed."""
    return {
        **os.environ,
        "RELAIS_DEMO": "true",
        "RELAIS_DATABASE_URL": database_url,
        "RELAIS_DATA_DIR": str(data_dir),
        "RELAIS_LOG_LEVEL": "WARNING",
        "RELAIS_ENCRYPTION_KEY": "bench-encryption-key",
        "RELAIS_BOT_APP_ID": BOT_APP_ID,
        "RELAIS_BOT_APP_PASSWORD": "bench-bot-password",
        "RELAIS_BOT_OPENID_METADATA_URL": metadata_url,
    }


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return listening(
        python_module("relais", "serve", "--no-worker", "--port", str(port)), port, env
    )


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        # Its graceful shutdown waits for connections aiohttp still drains after a refusal
        # (up to 10 s each, discarding what arrives): nothing worth waiting for here.
        server.kill()
        server.wait(10)


async def burst(port: int, count: int, size: int) -> tuple[list[int], float]:
    """``count`` anonymous posts of ``size`` bytes at once; their statuses and the wall time."""
    body = b"x" * size

    async def chunked() -> AsyncIterator[bytes]:
        view = memoryview(body)
        for start in range(0, size, MB):
            yield bytes(view[start : start + MB])

    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:

        async def one(index: int) -> int:
            content = body if index % 2 == 0 else chunked()
            try:
                response = await client.post(
                    "/api/messages",
                    content=content,
                    headers={"Content-Type": "application/json"},
                    timeout=120,
                )
            except httpx.HTTPError as error:  # the server may close while the body is sent
                raise SystemExit(f"request {index} failed: {error!r}") from error
            return response.status_code

        began = time.perf_counter()
        statuses = await asyncio.gather(*(one(i) for i in range(count)))
        return list(statuses), time.perf_counter() - began


async def refusal_latencies(port: int, count: int, size: int) -> list[float]:
    """Seconds from the headers of a ``size``-byte announcement to the status line, at once."""

    async def one() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            "POST /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        )
        began = time.perf_counter()
        writer.write(head.encode() + b'{"type":')
        await writer.drain()
        try:
            status = await asyncio.wait_for(reader.readline(), LATENCY_TIMEOUT)
        except TimeoutError:  # the server waits for the rest of the body
            return math.inf
        finally:
            writer.close()
        elapsed = time.perf_counter() - began
        if status.split()[1] not in (b"401", b"413"):
            raise SystemExit(f"not refused: {status!r}")
        return elapsed

    return list(await asyncio.gather(*(one() for _ in range(count))))


def measure(port: int, pid: int, count: int, size: int) -> dict[str, object]:
    # One small anonymous request first, so lazily built parts are not counted as growth.
    httpx.post(f"http://127.0.0.1:{port}/api/messages", json={}, timeout=30)
    idle = asyncio.run(refusal_latencies(port, count, size))
    before = memory(pid)
    statuses, seconds = asyncio.run(burst(port, count, size))
    after = memory(pid)
    # Again at once, while the server still drains what the burst's clients send.
    loaded = asyncio.run(refusal_latencies(port, count, size))
    return {
        "statuses": statuses,
        "before": before,
        "after": after,
        "seconds": seconds,
        "idle": idle,
        "loaded": loaded,
    }


async def prepare(url: str) -> None:
    from storage.migrate import upgrade_async

    await upgrade_async(url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20, help="bodies sent at once")
    parser.add_argument("--size-mb", type=int, default=24, help="size of each body")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="relais-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    asyncio.run(prepare(url))
    issuer = FakeChannelIssuer().start()
    port = free_port()
    server = start(server_env(url, workdir, issuer.metadata_url), port)
    try:
        figures = measure(port, server.pid, args.count, args.size_mb * MB)
    finally:
        stop(server)
        issuer.stop()

    statuses = figures["statuses"]
    assert isinstance(statuses, list)
    before, after = figures["before"], figures["after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    idle, loaded = figures["idle"], figures["loaded"]
    assert isinstance(idle, list) and isinstance(loaded, list)
    shape = f"{args.count}x{args.size_mb}MB"
    common = {"count": args.count, "size_mb": args.size_mb, "database": url.split(":", 1)[0]}
    lines = [
        {
            "metric": f"rss_growth_{shape}",
            "value": round(after["VmRSS"] - before["VmRSS"], 1),
            "unit": "MB",
            "baseline": round(before["VmRSS"], 1),
            "ratio": round(after["VmRSS"] / before["VmRSS"], 3),
        },
        {
            "metric": f"peak_rss_growth_{shape}",
            "value": round(after["VmHWM"] - before["VmHWM"], 1),
            "unit": "MB",
            "baseline": round(before["VmHWM"], 1),
            "ratio": round(after["VmHWM"] / before["VmHWM"], 3),
        },
        {"metric": "refusal_latency_p50", "value": _ms(statistics.median(idle)), "unit": "ms"},
        {"metric": "refusal_latency_max", "value": _ms(max(idle)), "unit": "ms"},
        {
            "metric": "refusal_latency_after_burst_p50",
            "value": _ms(statistics.median(loaded)),
            "unit": "ms",
        },
        {"metric": "burst_seconds", "value": round(float(figures["seconds"]), 2), "unit": "s"},  # type: ignore[arg-type]
        {
            "metric": "bodies_refused",
            "value": sum(status in (401, 413) for status in statuses),
            "unit": "requests",
            "baseline": args.count,
            "statuses": sorted(set(statuses)),
        },
    ]
    for line in lines:
        print(json.dumps({**line, **common}))
    if any(status not in (401, 413) for status in statuses):
        raise SystemExit(f"not every body was refused: {statuses}")


def _ms(seconds: float) -> float | None:
    """Milliseconds; None when no answer came within LATENCY_TIMEOUT."""
    return None if math.isinf(seconds) else round(seconds * 1000, 2)


if __name__ == "__main__":
    main()

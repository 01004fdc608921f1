"""Twenty anonymous 24 MB bodies at once against a real ``relais serve`` (its own process, Bot
Framework authentication on): every one refused, and the server's memory hardly moves, since
none is read (issue 11). ``bench/anonymous_bodies.py`` measures the same, with its figures in
docs/performance.md; this test shares its helpers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.anonymous_bodies import MB, burst, free_port, memory, server_env, start, stop
from tests.fakes.channel import FakeChannelIssuer

COUNT, SIZE = 20, 24 * MB
MAX_GROWTH_MB = 50


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/<pid>/status")
async def test_anonymous_oversized_bodies_are_refused_without_growing_the_server(
    database_url: str, tmp_path: Path, fake_channel_issuer: FakeChannelIssuer
) -> None:
    port = free_port()
    env = server_env(database_url, tmp_path, fake_channel_issuer.metadata_url)
    server = await asyncio.to_thread(start, env, port)
    try:
        # One small refusal first, so what is built on first use is not counted as growth.
        warm_up, _ = await burst(port, 1, 1024)
        assert warm_up == [401]
        before = memory(server.pid)
        statuses, _ = await burst(port, COUNT, SIZE)
        after = memory(server.pid)
    finally:
        await asyncio.to_thread(stop, server)
    assert sorted(set(statuses)) <= [401, 413], statuses
    assert len(statuses) == COUNT
    assert after["VmRSS"] - before["VmRSS"] < MAX_GROWTH_MB, (before, after)
    assert after["VmHWM"] - before["VmHWM"] < MAX_GROWTH_MB, (before, after)

"""Background rounds run in one process at a time (several ``relais serve`` on PostgreSQL)."""

from __future__ import annotations

from hub.rounds import INVITATIONS, NOTICES, exclusive_round
from hub.services import Hub


async def test_one_process_runs_a_round_the_others_skip_it_until_it_ends(hub: Hub) -> None:
    async with exclusive_round(hub, NOTICES) as first:
        assert first
        async with exclusive_round(hub, NOTICES) as second:
            # A second session stands for another server: on SQLite there is only one server.
            assert second is hub.settings.is_sqlite
        async with exclusive_round(hub, INVITATIONS) as other_kind:
            assert other_kind  # rounds of another kind don't wait for this one
    async with exclusive_round(hub, NOTICES) as after:
        assert after

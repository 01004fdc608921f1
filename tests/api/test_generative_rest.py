"""Generated requests (schemathesis over docs/openapi.yaml) against the real app on a local port:
whatever a client sends, the answer is never a 5xx, and it is what the description says.

Three callers: the firm's own token, no token, and another firm's token. Cases are both valid
(positive) and deliberately wrong (negative: bad types, missing parts, strings where numbers go),
on random dossier codes and on the firm's real dossier, so that the handlers, not only the
router, are reached. The number of cases is the Hypothesis profile's (``tests/api/conftest.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.services import Hub
from hub.settings import Settings
from hub.tokens import create_token
from relais.app import build_app
from tests import scenes
from tests.scenes import Office

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
# The suite's one switch for a longer hunt (``pytest --hypothesis-profile=long``) also lengthens
# this run; RELAIS_REST_PROFILE still picks a profile of its own.
PROFILE = os.environ.get("RELAIS_REST_PROFILE") or (
    "rest-long" if hypothesis_settings.get_current_profile_name() == "long" else "rest-ci"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _strategy(code: str) -> st.SearchStrategy[Any]:
    schema = schemathesis.openapi.from_path(OPENAPI)
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    anywhere = [schema.as_strategy(mode) for mode in modes]
    # The firm's real dossier: past the "no such dossier" answer, into the upload and listing.
    ours = [schema.as_strategy(mode, path_parameters={"code": code}) for mode in modes]
    return st.one_of(*anywhere, *ours)


def _explore(base_url: str, headers: dict[str, str], code: str) -> Counter[int]:
    """Run the profile's cases against ``base_url``; the statuses seen, by hundred."""
    statuses: Counter[int] = Counter()
    session = requests.Session()

    @hypothesis_settings(hypothesis_settings.get_profile(PROFILE))
    @given(case=_strategy(code))
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        statuses[response.status_code // 100 * 100] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        check()
    finally:
        session.close()
    return statuses


@pytest.fixture
async def other_firms_token(hub: Hub, sessions: Any, office: Office) -> str:
    # A firm with no dossier of its own: whatever it asks for is another firm's or nobody's.
    other = await scenes.firm(sessions, "Cabinet Voisin")
    admin = await scenes.staff(sessions, other, "administrator", name="Victor Voisin")
    actor = await scenes.actor(sessions, other, admin)
    return (await create_token(hub, actor, "Their scanner")).secret


@pytest.fixture
async def firm_token(hub: Hub, sessions: Any, office: Office) -> str:
    actor = await scenes.actor(sessions, office.firm, office.admin)
    return (await create_token(hub, actor, "Scanner")).secret


@pytest.mark.parametrize("caller", ["firm token", "no token", "other firm's token"])
async def test_generated_requests_never_get_a_server_error(
    aiohttp_server: Any,
    settings: Settings,
    office: Office,
    firm_token: str,
    other_firms_token: str,
    caller: str,
) -> None:
    server = await aiohttp_server(build_app(settings))
    base_url = str(server.make_url("/api/v1"))
    headers = {
        "firm token": {"Authorization": f"Bearer {firm_token}"},
        "no token": {},
        "other firm's token": {"Authorization": f"Bearer {other_firms_token}"},
    }[caller]
    # The requests are blocking (schemathesis sends them with requests): in a thread, while the
    # server answers on this test's event loop.
    statuses = await asyncio.to_thread(_explore, base_url, headers, office.dossier.code)
    assert 500 not in statuses
    assert sum(statuses.values()) >= 10
    if caller == "firm token":
        # The firm's own token does get through: not every answer is a refusal.
        assert statuses[200] > 0
    else:
        assert statuses[200] == 0

"""pytest fixture for the partner sandbox (a plugin: ``tests.fakes.partner_fixtures``).

=====================  =========  ==========================================================
fixture                scope      what it is
=====================  =========  ==========================================================
``partner_sandbox``    function   :class:`~tests.fakes.partner.PartnerSandbox`, every dossier
                                  code known, credentials ``SANDBOX_KEY_ID``/``SANDBOX_SECRET``
=====================  =========  ==========================================================
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.partner import PartnerSandbox


@pytest.fixture
def partner_sandbox() -> Iterator[PartnerSandbox]:
    sandbox = PartnerSandbox().start()
    yield sandbox
    sandbox.stop()

"""The partner sandbox of the tests: the demo's partner stand-in (:mod:`relais.demo.partner`, a
real HTTP server implementing ``docs/partner-api.md``) run in a thread of its own, recording what
it takes where a test can wait for it.

It records every document it takes (:attr:`PartnerSandbox.documents`) and every request it
recognised by its ``Idempotency-Key`` (:attr:`PartnerSandbox.duplicates`), and can be told to
refuse (unknown or inactive dossier codes, size, formats, credentials) or to fail: 5xx, 429 with
``Retry-After``, or hang past the client's timeout — for the next N requests or a share of them.
Like a careless partner it can also echo the credentials it received in its refusals
(``echo_credentials``), or answer with a redirect (``redirect_to``). Given an ``ssl_context`` it
serves https (with a ``trustme`` certificate for any name).

Standalone, for ``bench/forwarding.py``::

    python -m tests.fakes.partner --port 8600 [--api-key-id K --secret S] [--latency 0.01]

``GET /_sandbox/stats`` then returns ``{"documents", "duplicates", "requests"}``.
"""

from __future__ import annotations

import ssl
from typing import Any

from relais.demo.partner import (
    SANDBOX_KEY_ID,
    SANDBOX_SECRET,
    Duplicate,
    PartnerStandIn,
    ReceivedDocument,
    Refusal,
    main,
)
from tests.fakes.recorder import Recorder
from tests.fakes.server import Fake, ServerThread

__all__ = [
    "SANDBOX_KEY_ID",
    "SANDBOX_SECRET",
    "Duplicate",
    "PartnerSandbox",
    "ReceivedDocument",
    "Refusal",
]


class PartnerSandbox(PartnerStandIn, Fake):
    documents: Recorder[ReceivedDocument]
    duplicates: Recorder[Duplicate]
    refusals: Recorder[Refusal]

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.server = ServerThread(self.app(), ssl_context=ssl_context, name="partner-sandbox")

    def _log(self) -> Any:
        return Recorder()

    @property
    def url(self) -> str:
        """The API URL to give the application (``POST {url}/documents``)."""
        return self.server.url


if __name__ == "__main__":
    main()

"""The demo's partner stand-in: a real HTTP server answering the partner API contract
(``docs/partner-api.md``) the way an OCR application would, for ``relais demo``.

``relais demo`` serves it on a free loopback port beside Relais (an extra aiohttp site in the
same process) and points the demo firm's API applications at it, so a document a visitor drops
really travels: Relais' worker posts it over HTTP, exactly as it would to a partner elsewhere, and
records the reference it gets back. Nothing in Relais knows it is a stand-in: it is only a server
at another address.

It takes most documents with a reference (``DEMO-…``), keeps the reference of every
``Idempotency-Key`` it accepted, and refuses for good what a partner refuses: wrong credentials,
a dossier code it does not know or knows as inactive, a file over its size or outside its formats
and, in the demo, a file whose name says it is unreadable (``illisible``: answered 422, which
Relais records as ``rejected``). The tests' partner sandbox (``tests/fakes/partner.py``) is this
same class run in a thread, with its knobs for passing faults (5xx, 429 with ``Retry-After``,
hangs); ``python -m relais.demo.partner --port 8600`` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import random
import socket
import ssl
import threading
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

log = logging.getLogger(__name__)

NAME = "demo partner stand-in"
SANDBOX_KEY_ID = "sandbox-key-id"
SANDBOX_SECRET = "sandbox-secret"
# A file name with this word in it is answered "unreadable" in the demo: a refusal one can try.
UNREADABLE_WORD = "illisible"
EARLIER_DEMO_SECRET = "demo-secret-never-sent"

T = TypeVar("T")


@dataclass(frozen=True)
class ReceivedDocument:
    reference: str
    dossier_code: str
    file_name: str
    document_type: str
    content_type: str
    size: int
    sha256: str
    idempotency_key: str
    api_key_id: str


@dataclass(frozen=True)
class Duplicate:
    idempotency_key: str
    reference: str


@dataclass(frozen=True)
class Refusal:
    code: str
    status: int
    idempotency_key: str


@dataclass(frozen=True)
class _Failure:
    kind: str  # "5xx" status as text ("503"), "429", or "hang"
    retry_after: str | None = None


class Log(Generic[T]):
    """What the stand-in took or refused, appended from the server's loop, read from anywhere."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._lock = threading.Lock()

    def append(self, item: T) -> None:
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    @property
    def items(self) -> list[T]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class PartnerStandIn:
    """A partner application's API: ``POST /documents``, plus ``/_sandbox/stats`` and
    ``/_sandbox/reset`` for benchmarks."""

    reference_prefix = "SBX"

    def __init__(
        self,
        *,
        api_key_id: str = SANDBOX_KEY_ID,
        secret: str = SANDBOX_SECRET,
        credentials: Iterable[tuple[str, str]] = (),
        dossiers: Iterable[str] | None = None,
        inactive: Iterable[str] = (),
        max_size: int | None = None,
        accepted_formats: Iterable[str] | None = None,
        unreadable_word: str | None = None,
        hang_seconds: float = 30.0,
        latency: float = 0.0,
    ) -> None:
        self.api_key_id = api_key_id
        self.secret = secret
        # Other (key id, secret) pairs it accepts: the demo's applications each have their own.
        self.credentials = {(api_key_id, secret), *credentials}
        # None: every code is known (the benchmark's thousands of dossiers, the demo).
        self.dossiers: set[str] | None = set(dossiers) if dossiers is not None else None
        self.inactive = set(inactive)
        self.max_size = max_size
        self.accepted_formats = set(accepted_formats) if accepted_formats is not None else None
        self.unreadable_word = unreadable_word
        self.hang_seconds = hang_seconds
        self.latency = latency
        # Log[ReceivedDocument], Log[Duplicate], Log[Refusal] (or what ``_log`` makes instead).
        self.documents = self._log()
        self.duplicates = self._log()
        self.refusals = self._log()
        self.requests = 0
        self._references: dict[str, str] = {}
        self._lock = threading.Lock()
        self._planned: list[_Failure] = []
        self._share: tuple[float, _Failure, random.Random] | None = None
        self._echo = False
        self._redirect: str | None = None
        # What the last request's Host header said (a client connecting by address keeps it).
        self.last_host = ""

    def _log(self) -> Any:
        """Where what happened is kept (the tests keep it where they can wait for it)."""
        return Log()

    # ------------------------------------------------------------------ knobs

    def fail_next(self, count: int, kind: str | int = 503, retry_after: str | None = None) -> None:
        """The next ``count`` requests fail: an HTTP status (503, 500, 429…) or ``"hang"``."""
        with self._lock:
            self._planned.extend(_Failure(str(kind), retry_after) for _ in range(count))

    def fail_share(
        self, share: float, kind: str | int = 503, retry_after: str | None = None, seed: int = 7
    ) -> None:
        """A share (0…1) of the requests fail, drawn from a seeded random sequence."""
        with self._lock:
            self._share = (share, _Failure(str(kind), retry_after), random.Random(seed))

    def echo_credentials(self, on: bool = True) -> None:
        """Like a careless partner, refusals quote the key id and Authorization they received."""
        self._echo = on

    def redirect_to(self, url: str | None) -> None:
        """``POST /documents`` answers ``307`` to ``url`` (None: no more)."""
        self._redirect = url

    def heal(self) -> None:
        with self._lock:
            self._planned.clear()
            self._share = None

    def reset(self) -> None:
        self.heal()
        with self._lock:
            self._references.clear()
            self.requests = 0
        self.documents.clear()
        self.duplicates.clear()
        self.refusals.clear()

    def by_key(self) -> dict[str, ReceivedDocument]:
        return {d.idempotency_key: d for d in self.documents.items}

    def _next_failure(self) -> _Failure | None:
        with self._lock:
            self.requests += 1
            if self._planned:
                return self._planned.pop(0)
            if self._share is not None:
                share, failure, rng = self._share
                if rng.random() < share:
                    return failure
        return None

    # ------------------------------------------------------------------ the server

    def app(self) -> web.Application:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/documents", self._documents)
        app.router.add_get("/_sandbox/stats", self._stats)
        app.router.add_post("/_sandbox/reset", self._reset)
        return app

    async def _stats(self, request: web.Request) -> web.Response:
        keys = {d.idempotency_key for d in self.documents.items}
        return web.json_response(
            {
                "documents": len(self.documents),
                "distinct_keys": len(keys),
                "duplicates": len(self.duplicates),
                "requests": self.requests,
            }
        )

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    def _refuse(
        self, status: int, code: str, request: web.Request, message: str = ""
    ) -> web.Response:
        self.refusals.append(Refusal(code, status, request.headers.get("Idempotency-Key", "")))
        log.info("%s: refused a document (%s %s)", NAME, status, code)
        message = message or code
        if self._echo:
            message += (
                f" (key {request.headers.get('X-Api-Key-Id', '')},"
                f" {request.headers.get('Authorization', '')})"
            )
        return web.json_response({"error": {"code": code, "message": message}}, status=status)

    async def _fail(self, failure: _Failure) -> web.Response:
        """A passing fault asked for: a hang, a 5xx or a 429, with Retry-After."""
        if failure.kind == "hang":
            await asyncio.sleep(self.hang_seconds)
            return web.json_response({"error": {"code": "timeout"}}, status=504)
        headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
        status = int(failure.kind)
        return web.json_response(
            {"error": {"code": "unavailable" if status >= 500 else "rate_limited"}},
            status=status,
            headers=headers,
        )

    def _refusal(
        self, code: str, name: str, size: int, content_type: str
    ) -> tuple[int, str, str] | None:
        """Why this document is refused for good, as a real partner would, if it is."""
        if self.dossiers is not None and code not in self.dossiers and code not in self.inactive:
            return 404, "dossier_unknown", ""
        if code in self.inactive:
            return 409, "dossier_inactive", ""
        if self.max_size is not None and size > self.max_size:
            return 413, "file_too_large", ""
        if self.accepted_formats is not None and content_type not in self.accepted_formats:
            return 415, "format_refused", ""
        if self.unreadable_word and self.unreadable_word in name.lower():
            # A code the contract does not name: Relais records it as "rejected", with the text.
            return 422, "unreadable", "Document illisible : merci d'envoyer un scan net"
        return None

    def _authorised(self, request: web.Request) -> bool:
        key_id = request.headers.get("X-Api-Key-Id", "")
        bearer = request.headers.get("Authorization", "")
        return any(key_id == k and bearer == f"Bearer {s}" for k, s in self.credentials)

    async def _documents(self, request: web.Request) -> web.Response:
        self.last_host = request.headers.get("Host", "")
        failure = self._next_failure()
        if failure is not None:
            return await self._fail(failure)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._redirect:
            raise web.HTTPTemporaryRedirect(self._redirect)
        key = request.headers.get("Idempotency-Key", "")
        if not self._authorised(request):
            return self._refuse(401, "credentials_refused", request)
        form = await request.post()
        upload: Any = form.get("file")
        if not isinstance(upload, web.FileField):
            return self._refuse(400, "bad_request", request, "the 'file' part is missing")
        data = upload.file.read()
        if key and key in self._references:
            reference = self._references[key]
            self.duplicates.append(Duplicate(key, reference))
            return web.json_response({"reference": reference, "duplicate": True}, status=200)
        code = str(form.get("dossier_code", ""))
        name = str(form.get("file_name") or upload.filename)
        content_type = upload.content_type or "application/octet-stream"
        refusal = self._refusal(code, name, len(data), content_type)
        if refusal is not None:
            return self._refuse(refusal[0], refusal[1], request, refusal[2])
        reference = f"{self.reference_prefix}-{uuid.uuid4().hex[:12]}"
        if key:
            self._references[key] = reference
        self.documents.append(
            ReceivedDocument(
                reference=reference,
                dossier_code=code,
                file_name=name,
                document_type=str(form.get("document_type", "")),
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                idempotency_key=key,
                api_key_id=request.headers.get("X-Api-Key-Id", ""),
            )
        )
        log.info("%s: took %s for dossier %s: reference %s", NAME, name, code, reference)
        return web.json_response({"reference": reference}, status=201)


# --------------------------------------------------------------------------- in relais demo


class DemoPartner(PartnerStandIn):
    """The stand-in as ``relais demo`` runs it: every dossier code known, the demo
    applications' credentials, unreadable files refused."""

    reference_prefix = "DEMO"

    def __init__(self, credentials: Iterable[tuple[str, str]]) -> None:
        pairs = list(credentials)
        # Demos seeded before the stand-in stored this secret with the same key ids.
        earlier = [(key_id, EARLIER_DEMO_SECRET) for key_id, _ in pairs]
        super().__init__(credentials=pairs + earlier, unreadable_word=UNREADABLE_WORD)


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket on a free port, already listening: its address can be stored before the
    stand-in serves, and a request that comes early waits in the backlog instead of failing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def address_of(sock: socket.socket, scheme: str = "http") -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://{host}:{port}"


class _StandIn(Protocol):
    def app(self) -> web.Application: ...


@asynccontextmanager
async def serving(
    stand_in: _StandIn,
    sock: socket.socket,
    *,
    ssl_context: ssl.SSLContext | None = None,
    name: str = NAME,
    plays: str = "the partner applications",
) -> AsyncIterator[str]:
    """Serve ``stand_in`` on ``sock`` in the running loop until the block ends (over TLS with
    ``ssl_context``); yields its URL."""
    runner = web.AppRunner(stand_in.app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=ssl_context).start()
    url = address_of(sock, "https" if ssl_context else "http")
    log.info("%s serving on %s (demo only: it plays %s)", name, url, plays)
    try:
        yield url
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the partner stand-in on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--api-key-id", default=SANDBOX_KEY_ID)
    parser.add_argument("--secret", default=SANDBOX_SECRET)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    parser.add_argument("--fail-share", type=float, default=0.0, help="share of 503 answers")
    args = parser.parse_args()
    stand_in = PartnerStandIn(api_key_id=args.api_key_id, secret=args.secret, latency=args.latency)
    if args.fail_share:
        stand_in.fail_share(args.fail_share)
    web.run_app(stand_in.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

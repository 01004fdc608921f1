"""The partner sandbox: a real HTTP server implementing the partner API contract
(``docs/partner-api.md``), for the tests, the demo and the benchmarks.

It records every document it takes (:attr:`PartnerSandbox.documents`) and every request it
recognised by its ``Idempotency-Key`` (:attr:`PartnerSandbox.duplicates`), and can be told to
refuse (unknown or inactive dossier codes, size, formats, credentials) or to fail: 5xx, 429 with
``Retry-After``, or hang past the client's timeout — for the next N requests or a share of them.
Like a careless partner it can also echo the credentials it received in its refusals
(:meth:`PartnerSandbox.echo_credentials`), or answer with a redirect (:meth:`redirect_to`).
Given an ``ssl_context`` it serves https (with a ``trustme`` certificate for any name).

Standalone, for the demo and ``bench/forwarding.py``::

    python -m tests.fakes.partner --port 8600 [--api-key-id K --secret S] [--latency 0.01]

``GET /_sandbox/stats`` then returns ``{"documents", "duplicates", "requests"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import ssl
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.recorder import Recorder
from tests.fakes.server import Fake, ServerThread

SANDBOX_KEY_ID = "sandbox-key-id"
SANDBOX_SECRET = "sandbox-secret"


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


class PartnerSandbox(Fake):
    def __init__(
        self,
        *,
        api_key_id: str = SANDBOX_KEY_ID,
        secret: str = SANDBOX_SECRET,
        dossiers: Iterable[str] | None = None,
        inactive: Iterable[str] = (),
        max_size: int | None = None,
        accepted_formats: Iterable[str] | None = None,
        hang_seconds: float = 30.0,
        latency: float = 0.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.api_key_id = api_key_id
        self.secret = secret
        # None: every code is known (the benchmark's thousands of dossiers).
        self.dossiers: set[str] | None = set(dossiers) if dossiers is not None else None
        self.inactive = set(inactive)
        self.max_size = max_size
        self.accepted_formats = set(accepted_formats) if accepted_formats is not None else None
        self.hang_seconds = hang_seconds
        self.latency = latency
        self.documents: Recorder[ReceivedDocument] = Recorder()
        self.duplicates: Recorder[Duplicate] = Recorder()
        self.refusals: Recorder[Refusal] = Recorder()
        self.requests = 0
        self._references: dict[str, str] = {}
        self._lock = threading.Lock()
        self._planned: list[_Failure] = []
        self._share: tuple[float, _Failure, random.Random] | None = None
        self._echo = False
        self._redirect: str | None = None
        # What the last request's Host header said (a client connecting by address keeps it).
        self.last_host = ""
        self.server = ServerThread(self.app(), ssl_context=ssl_context, name="partner-sandbox")

    @property
    def url(self) -> str:
        """The API URL to give the application (``POST {url}/documents``)."""
        return self.server.url

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
        """Refusals quote the key id and the Authorization header they received."""
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
        message = message or code
        if self._echo:
            message += (
                f" (key {request.headers.get('X-Api-Key-Id', '')},"
                f" {request.headers.get('Authorization', '')})"
            )
        return web.json_response({"error": {"code": code, "message": message}}, status=status)

    async def _fail(self, failure: _Failure) -> web.Response:
        """A passing fault the test asked for: a hang, a 5xx or a 429, with Retry-After."""
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

    def _refusal(self, code: str, size: int, content_type: str) -> tuple[int, str] | None:
        """Why the sandbox refuses this document for good, as a real partner would, if it does."""
        if self.dossiers is not None and code not in self.dossiers and code not in self.inactive:
            return 404, "dossier_unknown"
        if code in self.inactive:
            return 409, "dossier_inactive"
        if self.max_size is not None and size > self.max_size:
            return 413, "file_too_large"
        if self.accepted_formats is not None and content_type not in self.accepted_formats:
            return 415, "format_refused"
        return None

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
        if (
            request.headers.get("X-Api-Key-Id") != self.api_key_id
            or request.headers.get("Authorization") != f"Bearer {self.secret}"
        ):
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
        content_type = upload.content_type or "application/octet-stream"
        refusal = self._refusal(code, len(data), content_type)
        if refusal is not None:
            return self._refuse(*refusal, request)
        reference = f"SBX-{uuid.uuid4().hex[:12]}"
        if key:
            self._references[key] = reference
        self.documents.append(
            ReceivedDocument(
                reference=reference,
                dossier_code=code,
                file_name=str(form.get("file_name") or upload.filename),
                document_type=str(form.get("document_type", "")),
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                idempotency_key=key,
                api_key_id=request.headers.get("X-Api-Key-Id", ""),
            )
        )
        return web.json_response({"reference": reference}, status=201)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the partner sandbox on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--api-key-id", default=SANDBOX_KEY_ID)
    parser.add_argument("--secret", default=SANDBOX_SECRET)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    parser.add_argument("--fail-share", type=float, default=0.0, help="share of 503 answers")
    args = parser.parse_args()
    sandbox = PartnerSandbox(api_key_id=args.api_key_id, secret=args.secret, latency=args.latency)
    if args.fail_share:
        sandbox.fail_share(args.fail_share)
    web.run_app(sandbox.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

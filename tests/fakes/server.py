"""Run an aiohttp application on 127.0.0.1 in a background thread with its own event loop.

The fakes must not share the test's event loop: botbuilder and msal call them with blocking
``requests`` from inside the application's loop, so a fake served from that same loop could never
answer (deadlock). Each fake therefore owns a thread and a loop.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from types import TracebackType
from typing import Self

from aiohttp import web

START_TIMEOUT = 10.0


class ServerThread:
    """``with ServerThread(app) as server: server.url`` — or ``start()`` / ``stop()``."""

    def __init__(
        self,
        app: web.Application,
        *,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        name: str = "fake-server",
    ) -> None:
        self.app = app
        self.host = host
        self.port = 0
        self._ssl_context = ssl_context
        self._name = name
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "https" if self._ssl_context else "http"

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``https://127.0.0.1:54321``."""
        if not self.port:
            raise RuntimeError(f"{self._name} is not running")
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(f"{self._name} did not start within {START_TIMEOUT}s")
        if self._error is not None:
            raise RuntimeError(f"{self._name} could not start") from self._error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
        self._loop = self._thread = None
        self.port = 0

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inside the thread

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except BaseException as error:
            self._error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            assert self._runner is not None
            loop.run_until_complete(self._runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _open(self) -> None:
        # A short shutdown timeout: a fake never has long requests worth waiting for at stop().
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self._ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])


class Fake:
    """Base of the HTTP fakes: ``self.server`` is their :class:`ServerThread`."""

    server: ServerThread

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

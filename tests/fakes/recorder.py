"""A thread-safe list the fakes append to from their server thread and tests read from theirs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0


class Recorder(Generic[T]):
    def __init__(self) -> None:
        self._items: list[T] = []
        self._changed = threading.Condition()

    def append(self, item: T) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def clear(self) -> None:
        with self._changed:
            self._items.clear()

    @property
    def items(self) -> list[T]:
        """A snapshot (a copy: the server thread may append while the test reads)."""
        with self._changed:
            return list(self._items)

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def wait_for(
        self,
        count: int = 1,
        *,
        where: Callable[[T], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> list[T]:
        """Block until at least ``count`` items (matching ``where``) are recorded; return them all.

        Raises ``AssertionError`` after ``timeout`` seconds with what was recorded, so a failing
        test says what did arrive. From async tests call it through ``asyncio.to_thread``, or use
        the ``await_for`` coroutine, so the app's event loop keeps running meanwhile.
        """

        def matching() -> list[T]:
            return [item for item in self._items if where is None or where(item)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(
                    f"expected {count} recorded item(s) within {timeout}s, got "
                    f"{len(matching())}: {self._items!r}"
                )
            return matching()

    async def await_for(
        self,
        count: int = 1,
        *,
        where: Callable[[T], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - bounds a wait in a worker thread
    ) -> list[T]:
        """``wait_for`` from a coroutine, without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.wait_for, count, where=where, timeout=timeout)

"""A signal: use-cases ring it, whoever was connected by the composition root hears it.

The hub knows that something happened (deliveries were queued), not who cares: the worker of this
process, when it runs here, is connected in :mod:`relais.app`. Listeners are plain callables that
must not block; one that raises is logged and the others still hear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Signal:
    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def connect(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def disconnect(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def ring(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("a listener of a hub signal failed")

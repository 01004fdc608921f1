"""Which connector sends for which application.

The worker asks the registry, never a hard-coded list: a vendor-specific connector (an
application whose API differs from the generic contract) is one ``register`` call with its
catalog slug, and the generic connector stays the fallback for its connection method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from connectors.collection_email import CollectionEmailConnector
from connectors.mail import Mailer
from connectors.parcel import Connector
from connectors.partner_api import PartnerApiConnector


@dataclass(frozen=True)
class ConnectorEnv:
    """What a connector may be built from: the worker's shared clients."""

    http: httpx.AsyncClient
    mailer: Mailer | None
    collection_sender: str | None = None


Factory = Callable[[ConnectorEnv], Connector]


def _collection_email(env: ConnectorEnv) -> Connector:
    if env.mailer is None:
        raise LookupError("collection-email deliveries need a mail transport")
    return CollectionEmailConnector(env.mailer, env.collection_sender)


class ConnectorRegistry:
    def __init__(self) -> None:
        self._factories: dict[tuple[str, str | None], Factory] = {}

    def register(self, method: str, factory: Factory, *, slug: str | None = None) -> None:
        """``method`` is the catalog's connection (``api``, ``collection_email``); with ``slug``
        the factory serves that one application only."""
        self._factories[(method, slug)] = factory

    def factory_for(self, method: str, slug: str) -> Factory | None:
        return self._factories.get((method, slug)) or self._factories.get((method, None))


def default_registry() -> ConnectorRegistry:
    registry = ConnectorRegistry()
    registry.register("api", lambda env: PartnerApiConnector(env.http))
    registry.register("collection_email", _collection_email)
    return registry


class Connectors:
    """The connectors of one worker, each built once, on first use."""

    def __init__(self, registry: ConnectorRegistry, env: ConnectorEnv) -> None:
        self.registry = registry
        self.env = env
        self._built: dict[tuple[str, str], Connector] = {}

    def get(self, method: str, slug: str) -> Connector | None:
        key = (method, slug)
        if key not in self._built:
            factory = self.registry.factory_for(method, slug)
            if factory is None:
                return None
            self._built[key] = factory(self.env)
        return self._built[key]

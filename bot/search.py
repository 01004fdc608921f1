"""Typeahead search: Teams asks the bot for the choices of an ``Input.ChoiceSet`` whose
``choices.data`` is a ``Data.Query`` (the ``application/search`` invoke, with ``queryText``,
``queryOptions`` {skip, top} and ``dataset``), and shows the ``results`` of the answer
(``application/vnd.microsoft.search.searchResponse``).

The datasets are a table (dataset → function); each answers through ``hub/``, so the actor's firm
and rights limit what is found.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from msrest.serialization import Model

from hub.errors import RelaisError
from hub.identity import Actor
from hub.offers import actionable_dossiers
from hub.services import Hub

log = logging.getLogger(__name__)

SEARCH_RESPONSE = "application/vnd.microsoft.search.searchResponse"
MAX_RESULTS = 15  # what Teams shows in the dropdown


class SearchInvokeResponse(Model):
    """The invoke response body (the SDK's serializer wants a model)."""

    _attribute_map = {
        "status_code": {"key": "statusCode", "type": "int"},
        "type": {"key": "type", "type": "str"},
        "value": {"key": "value", "type": "object"},
    }

    def __init__(self, *, results: list[dict[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status_code = 200
        self.type = SEARCH_RESPONSE
        self.value = {"results": results}


@dataclass(frozen=True)
class SearchQuery:
    hub: Hub
    actor: Actor
    text: str
    skip: int
    top: int


Dataset = Callable[[SearchQuery], Awaitable[list[tuple[str, str]]]]  # (value, title)


async def dossiers(query: SearchQuery) -> list[tuple[str, str]]:
    """The dossiers the person may propose services on, by code or name."""
    found = await actionable_dossiers(
        query.hub, query.actor, query.text, limit=query.top, skip=query.skip
    )
    return [(d.code, f"{d.code} — {d.name}") for d in found]


MAX_SKIP = 10_000  # past what anyone scrolls to; a bigger number would overflow the database's


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        return default


class SearchTable:
    def __init__(self, datasets: dict[str, Dataset]) -> None:
        self.datasets = datasets

    async def answer(self, hub: Hub, actor: Actor, value: Any) -> SearchInvokeResponse:
        value = value if isinstance(value, dict) else {}
        options = value.get("queryOptions") if isinstance(value.get("queryOptions"), dict) else {}
        dataset = self.datasets.get(str(value.get("dataset") or ""))
        results: list[tuple[str, str]] = []
        if dataset is not None:
            query = SearchQuery(
                hub,
                actor,
                str(value.get("queryText") or "").strip()[:100],
                min(MAX_SKIP, max(0, _int(options.get("skip"), 0))),
                min(MAX_RESULTS, max(1, _int(options.get("top"), MAX_RESULTS))),
            )
            try:
                results = await dataset(query)
            except RelaisError as error:  # not staff, say: nothing to find
                log.info("search refused for %s: %s", actor.ref, error)
        return SearchInvokeResponse(results=[{"value": v, "title": title} for v, title in results])


def default_searches() -> SearchTable:
    return SearchTable({"dossiers": dossiers})

"""The message a change leaves for the page it redirects to, shown once (post/redirect/get).

A handler calls :func:`flash` before its redirect; the next page rendered takes the messages out
of the session (:func:`messages`) and the layout shows them at the top of the page. A message may
name what it is ``about`` (a send's id on a document's history, the dashboard's notices form): the
layout leaves it out and the page places it beside that thing.

Only the key and its parameters travel in the (cookie) session; the text is translated when
shown, in the language of the page that shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from admin.keys import TRANSLATOR

__all__ = ["LEVELS", "Message", "flash", "messages"]

SLOT = "flash"
LEVELS = frozenset({"ok", "warning", "error"})


@dataclass(frozen=True)
class Message:
    level: str  # ok | warning | error
    text: str
    about: str | None = None  # what the message is about, for a page that places it there


# The request's messages, once taken out of the session.
_TAKEN = web.RequestKey("admin_flash_messages", tuple[Message, ...])


async def flash(
    request: web.Request,
    level: str,
    key: str,
    *more: tuple[str, Mapping[str, Any]],
    about: str | int | None = None,
    **params: Any,
) -> None:
    """Leave the message ``key`` (with ``params``) for the next page; ``more`` sentences (key,
    parameters) follow it in the same message."""
    if level not in LEVELS:
        raise ValueError(f"flash level {level!r} is not one of {sorted(LEVELS)}")
    session = await get_session(request)
    parts = [[key, dict(params)], *([k, dict(p)] for k, p in more)]
    stored = list(session.get(SLOT) or [])
    stored.append({"level": level, "parts": parts, "about": None if about is None else str(about)})
    session[SLOT] = stored


async def messages(request: web.Request) -> list[Message]:
    """The messages left for this page, in the person's language; taken out of the session once
    (asking again during the same request gives the same list)."""
    if _TAKEN in request:
        taken_before: tuple[Message, ...] = request[_TAKEN]
        return list(taken_before)
    session = await get_session(request)
    stored = session.pop(SLOT, None)
    t = request[TRANSLATOR]
    taken: list[Message] = []
    for item in stored if isinstance(stored, list) else []:
        if not isinstance(item, dict):
            continue
        sentences = [t(str(key), **dict(params or {})) for key, params in item.get("parts") or []]
        about = item.get("about")
        taken.append(
            Message(
                level=str(item.get("level", "ok")),
                text=" ".join(s for s in sentences if s),
                about=about if isinstance(about, str) else None,
            )
        )
    request[_TAKEN] = tuple(taken)
    return list(taken)

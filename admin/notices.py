"""The message a change leaves for the page it redirects to, shown once (post/redirect/get)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from admin.keys import TRANSLATOR


async def flash(request: web.Request, slot: str, key: str, **params: Any) -> None:
    """Leave the message ``key`` (with ``params``) in the session under ``slot``."""
    session = await get_session(request)
    session[slot] = {"key": key, "params": params}


async def notice(request: web.Request, slot: str) -> str:
    """The message left under ``slot``, in the person's language ("" when none); taken once."""
    session = await get_session(request)
    stored = session.pop(slot, None)
    if not isinstance(stored, dict):
        return ""
    return str(request[TRANSLATOR](str(stored.get("key")), **dict(stored.get("params") or {})))

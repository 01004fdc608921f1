"""Typed keys for the REST API's own state."""

from __future__ import annotations

from aiohttp import web

from hub.identity import Actor
from hub.services import Hub

HUB = web.AppKey("api_hub", Hub)
# The largest document accepted (tests lower it to exercise the refusals cheaply).
LIMIT = web.AppKey("api_upload_limit", int)
# The firm token's person, once authenticated.
ACTOR = web.RequestKey("api_actor", Actor)

"""Typed keys for the panel's own state; the hub's services are handed to :func:`admin.create_app`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from jinja2 import Environment

from admin.entra import EntraSignIn
from hub.i18n import Translator
from hub.identity import Actor
from hub.services import Hub

HUB = web.AppKey("admin_hub", Hub)
TEMPLATES = web.AppKey("admin_templates", Environment)
ENTRA = web.AppKey("admin_entra", EntraSignIn)
# The panel's clock (aware UTC): sessions' idle and absolute timeouts are read on it. Tests give
# :func:`admin.create_app` one they move forward instead of waiting.
CLOCK = web.AppKey[Callable[[], datetime]]("admin_clock")

# Set by the auth middleware on every request of a signed-in person.
ACTOR = web.RequestKey("admin_actor", Actor)
# The language of the request, and its translator (set by the error middleware, used everywhere).
TRANSLATOR = web.RequestKey("admin_translator", Translator)

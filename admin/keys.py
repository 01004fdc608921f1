"""Typed keys for the panel's own state (the shared state lives in :mod:`hub.context`)."""

from __future__ import annotations

from aiohttp import web
from jinja2 import Environment

from admin.entra import EntraSignIn
from hub.i18n import Translator
from hub.identity import Actor

TEMPLATES = web.AppKey("admin_templates", Environment)
ENTRA = web.AppKey("admin_entra", EntraSignIn)

# Set by the auth middleware on every request of a signed-in person.
ACTOR = web.RequestKey("admin_actor", Actor)
# The language of the request, and its translator (set by the error middleware, used everywhere).
TRANSLATOR = web.RequestKey("admin_translator", Translator)

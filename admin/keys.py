"""Typed keys for the panel's own state; the hub's services are handed to :func:`admin.create_app`."""

from __future__ import annotations

from aiohttp import web
from jinja2 import Environment

from admin.entra import EntraSignIn
from hub.i18n import Translator
from hub.identity import Actor
from hub.services import Hub

HUB = web.AppKey("admin_hub", Hub)
TEMPLATES = web.AppKey("admin_templates", Environment)
ENTRA = web.AppKey("admin_entra", EntraSignIn)

# Set by the auth middleware on every request of a signed-in person.
ACTOR = web.RequestKey("admin_actor", Actor)
# The language of the request, and its translator (set by the error middleware, used everywhere).
TRANSLATOR = web.RequestKey("admin_translator", Translator)

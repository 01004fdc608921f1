"""Typed keys for the state of the root application (what ``relais serve`` and the tests read).

The faces do not read these: each is handed the hub's services by :func:`relais.app.build_app`.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.worker import DeliveryWorker
from hub.services import Hub
from hub.settings import Settings
from storage.db import Sessions

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", Sessions)
HUB = web.AppKey("hub", Hub)
# Present when this process runs the delivery worker (``relais serve`` without --no-worker).
WORKER = web.AppKey("worker", DeliveryWorker)

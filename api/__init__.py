"""The document REST API (``/api/v1``): a sub-application of its own, authenticated by firm API
tokens, without the panel's cookies and CSRF (it is for machines, not browsers).

Written down in ``docs/openapi.yaml``. A face like the bot and the panel: each route calls one
use-case of ``hub/``. Every error becomes a problem document in one place (:mod:`api.problems`);
uploads are bounded before they are read (:mod:`api.uploads`).
"""

from __future__ import annotations

from aiohttp import web

from api.documents import routes
from api.keys import HUB, LIMIT
from api.problems import problems
from hub.documents import MAX_DOCUMENT_SIZE
from hub.services import Hub

__all__ = ["create_app"]


def create_app(hub: Hub) -> web.Application:
    app = web.Application(middlewares=[problems])
    app[HUB] = hub
    app[LIMIT] = MAX_DOCUMENT_SIZE
    app.router.add_routes(routes)
    return app

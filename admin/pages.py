"""The panel's sections. Each one is an empty state for now: a title and what will be there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from admin.render import NAV, render
from admin.security import HOME

routes = web.RouteTableDef()
LEGAL_PAGES = ("privacy", "terms")


@routes.get("/", name="home")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound(HOME)


def _section(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return await render(request, "section.html", {"section": name})

    handler.__name__ = f"section_{name}"
    return handler


def _legal(page: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return await render(request, "legal.html", {"page": page})

    handler.__name__ = f"legal_{page}"
    return handler


def setup(app: web.Application) -> None:
    # Linked from the Teams manifest: readable by anyone, signed in or not.
    for page in LEGAL_PAGES:
        app.router.add_get(f"/{page}", _legal(page), name=page)
    app.router.add_routes(routes)
    # Sections whose area module has not registered a page of that name yet show an empty state.
    taken = {resource.name for resource in app.router.resources()}
    for item in NAV:
        if item.name not in taken:
            path = item.path.removeprefix("/admin")
            app.router.add_get(path, _section(item.name), name=item.name)

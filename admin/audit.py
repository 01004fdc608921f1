"""The Audit page: every change, with filters, newest first, in pages keyed by (time, id)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from admin.keys import ACTOR, HUB, TRANSLATOR
from admin.render import render, url
from hub.audit import AuditEntry, AuditFilters, filter_choices, list_events, parse_filters
from hub.i18n import Translator

routes = web.RouteTableDef()


@routes.get("/audit", name="audit")
async def audit(request: web.Request) -> web.Response:
    hub, actor = request.config_dict[HUB], request[ACTOR]
    t: Translator = request[TRANSLATOR]
    filters = parse_filters(request.query)
    page = await list_events(
        hub,
        actor,
        filters,
        after=request.query.get("after") or None,
        before=request.query.get("before") or None,
    )
    choices = await filter_choices(hub, actor)
    return await render(
        request,
        "audit.html",
        {
            "page": page,
            "rows": [_row(t, entry) for entry in page.items],
            "filters": filters,
            "choices": choices,
            "action_label": lambda action: _label(t, f"audit.label.{action}", action),
            "target_label": lambda kind: _label(t, f"audit.target.{kind}", kind),
            "newer_url": _url(request, filters, before=page.newer) if page.newer else "",
            "older_url": _url(request, filters, after=page.older) if page.older else "",
            "first_url": _url(request, filters) if page.newer else "",
        },
    )


def _url(request: web.Request, filters: AuditFilters, **cursor: str | None) -> str:
    values = {
        "actor": filters.actor,
        "action": filters.action,
        "target_type": filters.target_type,
        "since": filters.since.isoformat() if filters.since else "",
        "until": filters.until.isoformat() if filters.until else "",
        **cursor,
    }
    return url(request, "audit", query={k: v for k, v in values.items() if v})


def _label(t: Translator, key: str, fallback: str) -> str:
    text = t(key)
    return fallback if text == key else text


def _row(t: Translator, entry: AuditEntry) -> dict[str, Any]:
    """The event as a sentence in the reader's language; an action without one shows its code."""
    params: dict[str, Any] = {
        **{k: v for k, v in entry.details.items() if isinstance(v, str | int | float)},
        "target": _target_name(t, entry),
    }
    if entry.action == "staff.updated":
        params["changes"] = _staff_changes(t, entry.details)
    if entry.action == "offer.unreachable":
        params["reason"] = _reason(t, entry.details)
    key = f"audit.action.{entry.action}"
    sentence = t(key, **params)
    readable = sentence != key
    return {
        "entry": entry,
        "who": entry.actor_name
        or (t("audit.system") if entry.actor == "system" else t("audit.unknown_person")),
        "sentence": sentence if readable else entry.action,
        "readable": readable,
        "target": _label(t, f"audit.target.{entry.target_type}", entry.target_type),
    }


def _target_name(t: Translator, entry: AuditEntry) -> str:
    """What the event is about, by name: its present name, else the one the event kept (a
    deleted application, a revoked token), else what kind of thing it is."""
    kept = entry.details.get("label") or entry.details.get("name")
    if entry.target_label or kept:
        return str(entry.target_label or kept)
    return _label(t, f"audit.target.{entry.target_type}", entry.target_type)


def _reason(t: Translator, details: dict[str, Any]) -> str:
    """Why an offer did not reach its contact, in the reader's language (the event keeps the
    message's key and values; ``reason`` is the technical detail, in English)."""
    key, values = details.get("reason_key"), details.get("reason_params")
    if isinstance(key, str):
        text = t(key, **(values if isinstance(values, dict) else {}))
        if text != key:
            return text
    return t("audit.reason_unknown")


def _staff_changes(t: Translator, details: dict[str, Any]) -> str:
    before, after = details.get("before") or {}, details.get("after") or {}
    parts = []
    if before.get("role") != after.get("role"):
        parts.append(
            t(
                "audit.change.role",
                old=t(f"role.{before.get('role')}"),
                new=t(f"role.{after.get('role')}"),
            )
        )
    if before.get("rights_manager") != after.get("rights_manager"):
        parts.append(
            t(
                "audit.change.rights_manager_on"
                if after.get("rights_manager")
                else "audit.change.rights_manager_off"
            )
        )
    return ", ".join(parts)


def setup(app: web.Application) -> None:
    """Register this area's routes (named after the navigation item for its main page)."""
    app.router.add_routes(routes)

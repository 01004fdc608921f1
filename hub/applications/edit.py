"""Editing a firm application's step-1 values (administrators only)."""

from __future__ import annotations

from hub.applications.queries import firm_app, sic_codes
from hub.applications.validation import address_refused, clean, https_only, same_host
from hub.applications.views import CatalogEntry, Definition, EditView
from hub.audit import record
from hub.identity import Actor
from hub.rights import require_admin
from hub.services import Hub
from storage.models import FirmApplication


async def application_for_edit(hub: Hub, actor: Actor, app_id: int) -> EditView:
    require_admin(actor)
    async with hub.sessions() as session:
        app = await firm_app(session, actor, app_id)
        return EditView(
            id=app.id,
            entry=CatalogEntry.of(app.catalog_app),
            definition=definition_of(app),
            has_secret=app.secret_encrypted is not None,
            sic_codes=await sic_codes(session, actor),
        )


async def update_application(hub: Hub, actor: Actor, app_id: int, definition: Definition) -> None:
    """Edit step-1 values; an empty secret keeps the stored one, unless the API URL now names
    another host: the secret was given for the old one, and is asked for again rather than sent
    to the new one. Audited by field name only."""
    require_admin(actor)
    unreachable = await address_refused(hub, definition.api_url)
    async with hub.sessions() as session, session.begin():
        app = await firm_app(session, actor, app_id)
        entry = CatalogEntry.of(app.catalog_app)
        stored = app.secret_encrypted is not None
        values = clean(
            entry,
            definition,
            await sic_codes(session, actor),
            secret_stored=stored,
            https_only=https_only(hub),
            unreachable=unreachable,
            secret_moved=stored
            and entry.requires_api_url
            and not same_host(app.api_url, definition.api_url),
        )
        before = definition_of(app)
        changed = [
            name
            for name, old, new in (
                ("api_key_id", before.api_key_id, values["api_key_id"]),
                ("api_url", before.api_url, values["api_url"]),
                ("fields", dict(before.fields), values["fields"]),
                ("sic_code", before.sic_code, values["sic_code"]),
                ("is_default", before.is_default, values["is_default"]),
                ("partner_email", before.partner_email, values["partner_email"]),
            )
            if old != new
        ]
        app.api_key_id = values["api_key_id"]
        app.api_url = values["api_url"]
        app.specific_fields = values["fields"]
        app.sic_code = values["sic_code"]
        app.is_default = values["is_default"]
        app.partner_email = values["partner_email"]
        if definition.secret.strip() and entry.requires_secret:
            app.secret_encrypted = hub.vault.seal(definition.secret.strip())
            changed.append("secret")
        record(
            session,
            actor.firm_id,
            actor.ref,
            "application.updated",
            "firm_application",
            app.id,
            app=entry.slug,
            changed=changed,
        )


def definition_of(app: FirmApplication) -> Definition:
    return Definition(
        app=app.catalog_app.slug,
        api_key_id=app.api_key_id,
        api_url=app.api_url,
        fields={str(k): str(v) for k, v in (app.specific_fields or {}).items()},
        sic_code=app.sic_code,
        is_default=app.is_default,
        partner_email=app.partner_email,
    )

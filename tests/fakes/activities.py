"""Teams-shaped activities, as the Bot Connector posts them to ``/api/messages``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

DEFAULT_BOT_ID = "28:00000000-0000-0000-0000-0000000b0700"


def personal_conversation_id(user_aad_id: str) -> str:
    """A stable personal-chat conversation id for this user (Teams' ``a:...`` shape)."""
    return f"a:1{uuid.uuid5(uuid.NAMESPACE_OID, user_aad_id).hex}"


def _base(
    activity_type: str,
    *,
    service_url: str,
    tenant_id: str,
    user_aad_id: str,
    user_name: str,
    bot_id: str,
    bot_name: str,
    conversation_id: str | None,
    locale: str,
) -> dict[str, Any]:
    return {
        "type": activity_type,
        "id": f"1{uuid.uuid4().int % 10**15:015d}",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "localTimestamp": datetime.now(UTC).isoformat(),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {
            "id": f"29:1{uuid.uuid5(uuid.NAMESPACE_DNS, user_aad_id).hex}",
            "name": user_name,
            "aadObjectId": user_aad_id,
        },
        "conversation": {
            "id": conversation_id or personal_conversation_id(user_aad_id),
            "conversationType": "personal",
            "tenantId": tenant_id,
        },
        "recipient": {"id": bot_id, "name": bot_name},
        "channelData": {"tenant": {"id": tenant_id}},
        "locale": locale,
    }


def teams_message(
    text: str,
    *,
    service_url: str,
    tenant_id: str,
    user_aad_id: str,
    user_name: str = "Test User",
    bot_id: str = DEFAULT_BOT_ID,
    bot_name: str = "Relais",
    conversation_id: str | None = None,
    locale: str = "fr-FR",
    value: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A personal-chat message from ``user_aad_id`` of ``tenant_id`` (``value``: a card submit)."""
    activity = _base(
        "message",
        service_url=service_url,
        tenant_id=tenant_id,
        user_aad_id=user_aad_id,
        user_name=user_name,
        bot_id=bot_id,
        bot_name=bot_name,
        conversation_id=conversation_id,
        locale=locale,
    )
    activity["text"] = text
    activity["textFormat"] = "plain"
    if value is not None:
        activity["value"] = value
    return activity


def members_added(
    *,
    service_url: str,
    tenant_id: str,
    user_aad_id: str,
    user_name: str = "Test User",
    bot_id: str = DEFAULT_BOT_ID,
    bot_name: str = "Relais",
    conversation_id: str | None = None,
    locale: str = "fr-FR",
    bot_added: bool = True,
) -> dict[str, Any]:
    """``conversationUpdate`` when the app is installed in a personal scope: the bot (and,
    with ``bot_added=False``, the user instead) appears in ``membersAdded``."""
    activity = _base(
        "conversationUpdate",
        service_url=service_url,
        tenant_id=tenant_id,
        user_aad_id=user_aad_id,
        user_name=user_name,
        bot_id=bot_id,
        bot_name=bot_name,
        conversation_id=conversation_id,
        locale=locale,
    )
    added = (
        {"id": bot_id} if bot_added else {"id": activity["from"]["id"], "aadObjectId": user_aad_id}
    )
    activity["membersAdded"] = [added]
    activity["channelData"]["eventType"] = "teamMemberAdded"
    return activity

"""The Teams activity handler: it identifies the person, routes, and turns errors into cards.

Nothing here decides anything: commands live in the table (``bot/commands.py``), decisions in
``hub/``.
"""

from __future__ import annotations

import logging

from botbuilder.core import ConversationState, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import ActivityTypes

from bot import cards
from bot.attachments import FileIntake, files_of, is_file_action
from bot.commands import CommandTable, Turn, card_activity
from hub import conversations
from hub.errors import NotRecognised, RelaisError
from hub.i18n import Translator
from hub.identity import Actor, resolve
from storage.db import Sessions

log = logging.getLogger("relais.bot")

ACTOR = "relais.actor"
COMMANDS = "relais.commands"
# Activity types that come from a person and deserve an answer, even a refusal.
PERSON_ACTIVITIES = {ActivityTypes.message, ActivityTypes.invoke, ActivityTypes.conversation_update}


def tenant_of(context: TurnContext) -> str | None:
    activity = context.activity
    channel_data = activity.channel_data or {}
    tenant = (
        (channel_data.get("tenant") or {}).get("id") if isinstance(channel_data, dict) else None
    )
    return tenant or (activity.conversation.tenant_id if activity.conversation else None)


class RelaisBot(TeamsActivityHandler):
    def __init__(
        self,
        sessions: Sessions,
        conversation_state: ConversationState,
        commands: CommandTable,
        panel_url: str,
        intake: FileIntake | None = None,
    ) -> None:
        self.sessions = sessions
        self.conversation_state = conversation_state
        self.commands = commands
        self.panel_url = panel_url
        # Files sent in a personal chat, and the answers to the "where should I file it?" card.
        self.intake = intake

    def _t(self, context: TurnContext, actor: Actor | None = None) -> Translator:
        # The activity's locale is what Teams shows the person now; the stored one is a fallback.
        return Translator("bot", context.activity.locale or (actor.locale if actor else "fr"))

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if activity.type not in PERSON_ACTIVITIES:
            return
        try:
            actor = await resolve(
                self.sessions, tenant_of(turn_context), activity.from_property.aad_object_id
            )
        except NotRecognised as refused:
            log.info("refused a %s activity: %s", activity.type, refused.params.get("reason"))
            if activity.type != ActivityTypes.conversation_update or self._bot_was_added(
                turn_context
            ):
                t = self._t(turn_context)
                await turn_context.send_activity(card_activity(cards.refusal_card(t, t.lang)))
            return
        turn_context.turn_state[ACTOR] = actor
        turn_context.turn_state[COMMANDS] = self.commands
        await self._remember(turn_context, actor)
        t = self._t(turn_context, actor)
        try:
            await super().on_turn(turn_context)
        except RelaisError as error:
            log.info("turn refused: %s", error)
            await turn_context.send_activity(card_activity(cards.error_card(t, t.lang, error.key)))
        await self.conversation_state.save_changes(turn_context)

    async def _remember(self, context: TurnContext, actor: Actor) -> None:
        reference = TurnContext.get_conversation_reference(context.activity).serialize()
        # The id of this one message changes every turn and is not needed to write later.
        reference.pop("activityId", None)
        await conversations.remember(
            self.sessions, actor, context.activity.from_property.aad_object_id, reference
        )

    @staticmethod
    def _bot_was_added(context: TurnContext) -> bool:
        recipient = context.activity.recipient.id if context.activity.recipient else None
        return any(m.id == recipient for m in context.activity.members_added or [])

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        actor: Actor = turn_context.turn_state[ACTOR]
        t = self._t(turn_context, actor)
        if self.intake is not None:
            turn = Turn(turn_context, actor, t, "", self.panel_url)
            if files := files_of(turn_context.activity):
                await self.intake.receive(turn, files)
                return
            if is_file_action(turn_context.activity.value):
                await self.intake.choose(turn, turn_context.activity.value)
                return
        text = (TurnContext.remove_recipient_mention(turn_context.activity) or "").strip()
        if not text:
            return
        command, args = self.commands.find(text)
        if command is None or actor.kind not in command.audience:
            card = cards.unknown_command_card(t, t.lang, text, self.commands.help_word(t.lang))
            await turn_context.send_activity(card_activity(card))
            return
        await command.handler(Turn(turn_context, actor, t, args, self.panel_url))

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        # Only the bot's own arrival matters (the app was installed). The SDK's Teams dispatch
        # would first fetch every added member from the connector, a call we do not need.
        if not self._bot_was_added(turn_context):
            return
        actor: Actor = turn_context.turn_state[ACTOR]
        t = self._t(turn_context, actor)
        card = cards.welcome_card(
            t,
            t.lang,
            actor.display_name,
            actor.firm_name,
            actor.is_staff,
            self.commands.help_word(t.lang),
        )
        await turn_context.send_activity(card_activity(card))

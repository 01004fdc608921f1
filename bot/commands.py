"""The command table: what people can type, in French and English, and the function that answers.

A new command is a new row, not a new branch. ``help`` lists the rows the person may use. The
table imports its handlers (``bot/history.py``, ``bot/offering.py``); none imports it back: a
handler reaches the table through its :class:`~bot.turn.Turn` (``turn.word``, ``help_rows``).
A refusal a handler does not catch reaches the person through the activity handler
(:func:`bot.errors.error_card`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.cards import help_card
from bot.history import failures_command, history_command, status_command
from bot.offering import invite_command, propose_command
from bot.turn import Turn
from hub.i18n import Translator
from hub.identity import Actor

Handler = Callable[[Turn], Awaitable[None]]
STAFF = frozenset({"staff"})


@dataclass(frozen=True)
class Command:
    words: dict[str, str]  # the word to type, per language: {"en": "help", "fr": "aide"}
    summary_key: str
    handler: Handler
    audience: frozenset[str] = frozenset({"staff", "contact"})
    aliases: tuple[str, ...] = ()
    # Who finds it in ``help``, when not its whole audience (a command that answers some people
    # only with a polite refusal is not offered to them).
    listed_for: frozenset[str] | None = None

    def word(self, lang: str) -> str:
        return self.words.get(lang) or self.words["en"]


class CommandTable:
    def __init__(self, commands: list[Command]) -> None:
        self.commands = commands
        self._by_word: dict[str, Command] = {}
        for command in commands:
            for word in (*command.words.values(), *command.aliases):
                self._by_word[word.lower()] = command

    def find(self, text: str) -> tuple[Command | None, str]:
        """Split the line into the command and its arguments (``history invoice-04`` → history, invoice-04)."""
        word, _, rest = text.strip().partition(" ")
        return self._by_word.get(word.lower()), rest.strip()

    def available_to(self, actor: Actor) -> list[Command]:
        return [c for c in self.commands if actor.kind in (c.listed_for or c.audience)]

    def help_rows(self, actor: Actor, t: Translator) -> list[tuple[str, str]]:
        return [(c.word(t.lang), t(c.summary_key)) for c in self.available_to(actor)]

    def word_for(self, english: str, lang: str) -> str:
        command, _ = self.find(english)
        return command.word(lang) if command else english

    def help_word(self, lang: str) -> str:
        return self.commands[0].word(lang)


async def show_help(turn: Turn) -> None:
    rows = turn.services.commands.help_rows(turn.actor, turn.t)
    panel = turn.services.panel_url if turn.actor.is_staff else None
    await turn.send_card(help_card(turn.t, rows, panel))


def menu(table: CommandTable) -> list[dict[str, tuple[str, str]]]:
    """The commands as Teams' app menu shows them (``relais manifest build``), in both languages."""
    return [
        {lang: (c.word(lang), Translator("bot", lang)(c.summary_key)) for lang in ("en", "fr")}
        for c in table.commands
    ]


def default_commands() -> CommandTable:
    """Help comes first: it is the word the unknown-command card and the welcome card offer."""
    return CommandTable(
        [
            Command(
                {"en": "help", "fr": "aide"},
                "command.help",
                show_help,
                aliases=("?", "menu", "aides"),
            ),
            Command(
                {"en": "invite", "fr": "inviter"},
                "command.invite",
                invite_command,
                audience=STAFF,
            ),
            Command(
                {"en": "propose", "fr": "proposer"},
                "command.propose",
                propose_command,
                audience=STAFF,
            ),
            Command(
                {"en": "history", "fr": "historique"},
                "command.history",
                history_command,
                aliases=("historic",),
            ),
            Command(
                {"en": "failures", "fr": "échecs"},
                "command.failures",
                failures_command,
                aliases=("echecs", "failed"),
                # Contacts get a kind refusal rather than "unknown command", but no help row.
                listed_for=STAFF,
            ),
            Command({"en": "status", "fr": "statut"}, "command.status", status_command),
        ]
    )

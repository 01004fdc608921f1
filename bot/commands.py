"""The command table: what people can type, in French and English, and the function that answers.

A new command is a new row, not a new branch. ``help`` lists the rows the person may use. The
table imports its handlers (``bot/history.py``, ``bot/offering.py``); none imports it back: a
handler reaches the table through its :class:`~bot.turn.Turn` (``turn.word``, ``help_rows``).
A refusal a handler does not catch reaches the person through the activity handler
(:func:`bot.errors.error_card`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.cards import help_card
from bot.history import failures_command, history_command, sent_command, status_command
from bot.offering import invite_command, propose_command
from bot.turn import Turn
from hub.history.names import fold
from hub.i18n import Translator
from hub.identity import Actor

Handler = Callable[[Turn], Awaitable[None]]
STAFF = frozenset({"staff"})
# The words people put before a dossier's code ("failures for dossier BLA172", "échecs du dossier
# BLA172", "statut de BLA011"), folded: skipped, but never the last word (a code may be "DE").
DOSSIER_FILLERS = frozenset(
    {"for", "of", "the", "on", "dossier", "file", "client"}
    | {"pour", "du", "de", "d", "le", "la", "l", "les", "des", "dossier", "sur", "client"}
)
# French elisions (l'OCR, d'Arcy) and the typographic apostrophe Teams puts in their place.
ELISION = re.compile(r"\b(qu|[ldjnst])['’]", re.IGNORECASE)


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
    # Whole phrases that mean the command ("what was sent"), matched before single words.
    phrases: tuple[str, ...] = ()
    # Its argument is a dossier code: the filler words before it are skipped.
    takes_dossier: bool = False

    def word(self, lang: str) -> str:
        return self.words.get(lang) or self.words["en"]


class CommandTable:
    def __init__(self, commands: list[Command]) -> None:
        self.commands = commands
        self._by_word: dict[str, Command] = {}
        self._phrases: list[tuple[list[str], Command]] = []
        for command in commands:
            for word in (*command.words.values(), *command.aliases):
                self._by_word[fold(word)] = command
            for phrase in command.phrases:
                self._phrases.append((_words(phrase), command))
        # The longest phrase first: "qu'est-ce qui a été envoyé" before "envoyé".
        self._phrases.sort(key=lambda entry: len(entry[0]), reverse=True)

    def find(self, text: str) -> tuple[Command | None, str]:
        """Split the line into the command and its arguments (``history invoice-04`` → history,
        invoice-04; ``failures for dossier BLA172`` → failures, BLA172). Words are matched with
        accents and case folded, as the person may type them (``echecs``, ``STATUT``)."""
        words = text.split()
        folded = [_word(w) for w in words]
        for phrase, command in self._phrases:
            if _starts_with(folded, phrase):
                return command, self._arguments(command, " ".join(words[len(phrase) :]))
        if not words:
            return None, ""
        found = self._by_word.get(folded[0])
        rest = " ".join(words[1:])
        return found, self._arguments(found, rest) if found else rest

    @staticmethod
    def _arguments(command: Command, rest: str) -> str:
        if not command.takes_dossier:
            return rest
        words = ELISION.sub(r"\1' ", rest).split()
        while len(words) > 1 and fold(words[0]).rstrip("'’") in DOSSIER_FILLERS:
            words.pop(0)
        return " ".join(words)

    def available_to(self, actor: Actor) -> list[Command]:
        return [c for c in self.commands if actor.kind in (c.listed_for or c.audience)]

    def help_rows(self, actor: Actor, t: Translator) -> list[tuple[str, str]]:
        return [(c.word(t.lang), t(c.summary_key)) for c in self.available_to(actor)]

    def word_for(self, english: str, lang: str) -> str:
        command, _ = self.find(english)
        return command.word(lang) if command else english

    def help_word(self, lang: str) -> str:
        return self.commands[0].word(lang)


def _words(phrase: str) -> list[str]:
    return [_word(w) for w in phrase.split()]


def _word(word: str) -> str:
    """A word as the table compares it: folded, with Teams' typographic apostrophe as typed."""
    return fold(word.replace("’", "'"))


def _starts_with(words: list[str], phrase: list[str]) -> bool:
    return len(words) >= len(phrase) and words[: len(phrase)] == phrase


async def show_help(turn: Turn) -> None:
    rows = turn.services.commands.help_rows(turn.actor, turn.t)
    panel = turn.services.panel_url if turn.actor.is_staff else None
    await turn.send_card(help_card(turn.t, rows, panel, staff=turn.actor.is_staff))


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
                takes_dossier=True,
                # Contacts get a kind refusal rather than "unknown command", but no help row.
                listed_for=STAFF,
            ),
            Command(
                {"en": "status", "fr": "statut"},
                "command.status",
                status_command,
                takes_dossier=True,
            ),
            Command(
                {"en": "sent", "fr": "envoyés"},
                "command.sent",
                sent_command,
                aliases=("envoyes", "envoyé", "envoye", "envois"),
                phrases=(
                    "what was sent",
                    "what has been sent",
                    "what did we send",
                    "qu'est-ce qui a été envoyé",
                    "qu'est-ce qui est parti",
                    "qu'a-t-on envoyé",
                    "qu'avons-nous envoyé",
                    "ce qui a été envoyé",
                ),
            ),
        ]
    )

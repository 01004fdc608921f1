"""French and English, for every face: messages from JSON catalogs, the rest from Babel.

One :class:`Translator` per person and face does it all:

- ``t(key, **params)``: the message ``key`` of the face's catalog (``<face>/locales/fr.json``
  plus every ``fr.<area>.json``). A key missing in one language falls back to the other, then to
  the key itself, so a forgotten translation shows up as text rather than a crash. A parameter the
  text names but the caller did not give never raises: it is logged and left out, and the rest of
  the sentence is still shown (an error message must reach the person even when its details do
  not). Asked without any parameter, the text comes as written.
- ``t.plural(key, count, **params)`` (also ``t(key, count=n)`` when ``key`` is a plural): CLDR
  plurals. A plural is a family of keys ``key.one`` / ``key.other`` (``key.many`` where a language
  has it, else ``other`` stands in), the form chosen by Babel's CLDR rules for the language; an
  optional ``key.zero`` is the explicit "exactly none" sentence (ICU's ``=0``), since "No dossiers"
  reads better than "0 dossiers" in both languages.
- ``t.number``, ``t.size`` (o/Ko/Mo/Go in French, B/KB/MB/GB in English), ``t.date``,
  ``t.datetime``, ``t.time``: Babel, dates and times shown in the firm's time zone (the
  ``notice_timezone`` setting, Europe/Paris unless told otherwise).
"""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal

__all__ = [
    "DEFAULT_LANGUAGE",
    "DEFAULT_TIMEZONE",
    "LANGUAGES",
    "PLURAL_FORMS",
    "REQUIRED_PLURAL_FORMS",
    "Translator",
    "catalog",
    "fill",
    "language_of",
    "plural_category",
]

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
DEFAULT_TIMEZONE = "Europe/Paris"
# The forms a plural family may hold. "zero" is the explicit =0 sentence, not a CLDR category of
# French or English; a CLDR category a family lacks (French "many", for millions) reads "other".
PLURAL_FORMS = ("zero", "one", "many", "other")
REQUIRED_PLURAL_FORMS = ("one", "other")

# The firm's way of writing dates: day first in French, ISO order in English (Babel patterns).
DATE_PATTERNS = {"fr": "dd/MM/yyyy", "en": "yyyy-MM-dd"}
TIME_PATTERNS = {"fr": "HH:mm", "en": "HH:mm"}
TIME_SECONDS_PATTERNS = {"fr": "HH:mm:ss", "en": "HH:mm:ss"}
# CLDR writes "ko" and "kB"; the firm (and the catalogs' own texts) write Ko and KB.
SIZE_UNITS = {"fr": ("o", "Ko", "Mo", "Go"), "en": ("B", "KB", "MB", "GB")}


def language_of(locale: str | None) -> str:
    """``fr-FR`` → ``fr``; anything we do not speak → French."""
    lang = (locale or "").split("-")[0].split("_")[0].lower()
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


@cache
def catalog(package: str, lang: str) -> dict[str, str]:
    """``locales/fr.json`` plus every ``locales/fr.<area>.json`` (one file per area of a face)."""
    folder = resources.files(package).joinpath("locales")
    names = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name == f"{lang}.json"
        or (entry.name.startswith(f"{lang}.") and entry.name.endswith(".json"))
    )
    data: dict[str, str] = {}
    for name in names:
        data.update(json.loads(folder.joinpath(name).read_text("utf-8")))
    return data


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)


def plural_category(lang: str, count: float) -> str:
    """The CLDR plural category of ``count`` in ``lang`` (``one``, ``many`` or ``other``)."""
    return str(_locale(language_of(lang)).plural_form(abs(count)))


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class _Lenient(string.Formatter):
    """``str.format`` that leaves out (and reports) a parameter the caller did not give."""

    def __init__(self) -> None:
        self.missing: list[str] = []

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, int):
            if key < len(args):
                return args[key]
        elif key in kwargs:
            return kwargs[key]
        self.missing.append(str(key))
        return ""

    def format_field(self, value: Any, format_spec: str) -> Any:
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


def fill(text: str, params: Mapping[str, Any], *, key: str = "") -> str:
    """``text`` with its ``{placeholders}`` filled from ``params``; never raises."""
    formatter = _Lenient()
    try:
        result = formatter.vformat(text, (), params)
    except (ValueError, IndexError, AttributeError) as error:
        log.warning("message %r does not format (%s): shown as written", key or text, error)
        return text
    if formatter.missing:
        log.warning("message %r lacks %s: shown without", key or text, ", ".join(formatter.missing))
    return result


class Translator:
    """Messages, plurals, numbers, sizes, dates and times in one language for one face."""

    def __init__(self, package: str, lang: str, timezone: str | tzinfo = DEFAULT_TIMEZONE) -> None:
        self.package = package
        self.lang = language_of(lang)
        self.zone: tzinfo = _zone(timezone) if isinstance(timezone, str) else timezone

    # -- messages

    def _text(self, key: str) -> str | None:
        text = catalog(self.package, self.lang).get(key)
        if text:
            return text
        other = "en" if self.lang == "fr" else "fr"
        return catalog(self.package, other).get(key)

    def has(self, key: str) -> bool:
        """Whether ``key`` is a message (or a plural family) of this face."""
        return self._text(key) is not None or self.is_plural(key)

    def is_plural(self, key: str) -> bool:
        return self._text(f"{key}.other") is not None

    def __call__(self, key: str, **params: Any) -> str:
        text = self._text(key)
        if text is None:
            if "count" in params and self.is_plural(key):
                count = params.pop("count")
                return self.plural(key, count, **params)
            return key
        # Without parameters the text is as written: some are templates the page's script fills
        # ("{count} fichiers choisis", documents.upload.chosen).
        return fill(text, params, key=key) if params else text

    def plural(self, key: str, count: int, **params: Any) -> str:
        """The form of the plural ``key`` for ``count``, given to the text as ``{count}`` written
        the language's way (``1 200`` in French, ``1,200`` in English)."""
        form = "zero" if count == 0 and self._text(f"{key}.zero") is not None else None
        form = form or plural_category(self.lang, count)
        text = self._text(f"{key}.{form}")
        if text is None:
            text = self._text(f"{key}.other")
        if text is None:
            return key
        return fill(text, {"count": self.number(count), **params}, key=f"{key}.{form}")

    # -- numbers, sizes, dates

    def number(self, value: float, pattern: str | None = None) -> str:
        """``12 345,5`` in French, ``12,345.5`` in English."""
        return str(format_decimal(value, format=pattern, locale=self.lang))

    def size(self, size: int) -> str:
        """A file size with one decimal under 100: ``1,5 Mo`` / ``1.5 MB``, ``312 Ko`` / ``312 KB``."""
        units = SIZE_UNITS[self.lang]
        value = float(size)
        for unit in units:
            if value < 1024 or unit == units[-1]:
                whole = unit == units[0] or value >= 100 or value.is_integer()
                return f"{self.number(value, '0' if whole else '0.0')} {unit}"
            value /= 1024
        raise AssertionError("unreachable")

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the firm's time zone (a naive moment is taken as UTC)."""
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return aware.astimezone(self.zone)

    def date(self, value: date | datetime, pattern: str | None = None) -> str:
        """``23/11/2026`` in French, ``2026-11-23`` in English (a moment: its day in the zone)."""
        if isinstance(value, datetime):
            value = self.local(value).date()
        return str(format_date(value, pattern or DATE_PATTERNS[self.lang], locale=self.lang))

    def time(self, moment: datetime, *, seconds: bool = False) -> str:
        """``14:05`` (``14:05:09`` with ``seconds``) in the firm's time zone."""
        patterns = TIME_SECONDS_PATTERNS if seconds else TIME_PATTERNS
        return str(format_time(self.local(moment), patterns[self.lang], locale=self.lang))

    def datetime(
        self, moment: datetime, *, seconds: bool = False, pattern: str | None = None
    ) -> str:
        """``23/11/2026 14:05`` in French, ``2026-11-23 14:05`` in English, in the firm's zone."""
        if pattern is None:
            clock = (TIME_SECONDS_PATTERNS if seconds else TIME_PATTERNS)[self.lang]
            pattern = f"{DATE_PATTERNS[self.lang]} {clock}"
        return str(format_datetime(self.local(moment), pattern, locale=self.lang))

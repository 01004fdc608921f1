"""French and English messages. Each face ships its own catalog (``locales/fr.json``, ``en.json``).

French is the firm's language by default; a key missing in one language falls back to the other,
then to the key itself, so a forgotten translation shows up as text rather than a crash.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


def language_of(locale: str | None) -> str:
    """``fr-FR`` → ``fr``; anything we do not speak → French."""
    lang = (locale or "").split("-")[0].split("_")[0].lower()
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


@cache
def _catalog(package: str, lang: str) -> dict[str, str]:
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


class Translator:
    def __init__(self, package: str, lang: str) -> None:
        self.package = package
        self.lang = language_of(lang)

    def __call__(self, key: str, **params: Any) -> str:
        other = "en" if self.lang == "fr" else "fr"
        text = _catalog(self.package, self.lang).get(key) or _catalog(self.package, other).get(
            key, key
        )
        return text.format(**params) if params else text

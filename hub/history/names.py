"""The one normalisation for searching names (documents in ``history`` and the panel's search,
the words of the bot's commands): accents and case folded as the search index folds the stored
names (:func:`storage.search.fold_name`), so that ``releve`` and ``Relevé`` are the same word, and a
search is words that must each appear, in any order."""

from __future__ import annotations

import unicodedata

from storage.search import fold_name

MAX_WORDS = 8  # more words than anyone types; each is one more condition on the index


def fold(text: str) -> str:
    """``Relevé-Œuvre`` → ``releve-oeuvre``. Composed first (a keyboard may send ``e`` and a
    combining accent), then folded as the index is."""
    return fold_name(unicodedata.normalize("NFC", text))


def search_words(term: str) -> list[str]:
    """The folded words of a search, each once, longest first (the rarest, as a rule, so the
    index answers with the fewest rows): ``Facture  EDF facture`` → ``["facture", "edf"]``."""
    seen: dict[str, None] = {}
    for word in fold(term).split():
        seen.setdefault(word, None)
    return sorted(seen, key=len, reverse=True)[:MAX_WORDS]

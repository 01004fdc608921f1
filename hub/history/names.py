"""The one normalisation for searching names (documents in ``history`` and the panel's search,
the words of the bot's commands): accents and case folded, so that ``releve`` and ``Relevé`` are
the same word, and a search is words that must each appear, in any order."""

from __future__ import annotations

import unicodedata

MAX_WORDS = 8  # more words than anyone types; each is one more condition on the index


def fold(text: str) -> str:
    """``Relevé-Œuvre`` → ``releve-oeuvre``: decomposed, combining marks dropped, case folded.
    The ligatures people type (œ, æ, ß) fold to their letters so that ``oeuvre`` finds them."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold().replace("œ", "oe").replace("æ", "ae")


def search_words(term: str) -> list[str]:
    """The folded words of a search, each once, longest first (the rarest, as a rule, so the
    index answers with the fewest rows): ``Facture  EDF facture`` → ``["facture", "edf"]``."""
    seen: dict[str, None] = {}
    for word in fold(term).split():
        seen.setdefault(word, None)
    return sorted(seen, key=len, reverse=True)[:MAX_WORDS]

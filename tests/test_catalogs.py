"""The message catalogs: French and English alike, CLDR plurals, and every key the code uses.

Each face (``admin``, ``bot``, ``hub``; the REST API speaks the panel's catalog) ships
``locales/fr*.json`` and ``en*.json``. The code is scanned statically for the keys it names
literally (``t("...")``, ``tn("...", n)``, ``.plural("...", n)``, ``key="..."``, ``flash(request,
level, "...")`` and ``("...", {...})`` sentences); keys built at run time are listed in
``DYNAMIC`` with where they come from, and checked the same way.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel import Locale

from hub.i18n import LANGUAGES, PLURAL_FORMS, REQUIRED_PLURAL_FORMS, Translator, catalog

ROOT = Path(__file__).resolve().parent.parent
FACES = ("admin", "bot", "hub")
# Which catalog the code of each folder speaks.
SPEAKS = {"admin": "admin", "api": "admin", "bot": "bot", "hub": "hub"}


# Keys built at run time: (face, pattern with one {}, the values it takes, where it is built).
DYNAMIC: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("admin", "nav.{}", ("applications", "portfolio", "dossiers", "contacts", "team",
                         "dashboard", "audit"), "admin/templates/layout.html (admin.render.NAV)"),
    ("admin", "layout.language_{}", LANGUAGES, "admin/templates/layout.html"),
    ("admin", "errors.{}.title", ("forbidden", "not_found", "not_allowed", "conflict",
                                  "too_large", "unavailable", "server", "bad_request", "csrf",
                                  "not_recognised"), "admin/middlewares.py _error_page"),
    ("admin", "errors.{}.message", ("forbidden", "not_found", "not_allowed", "conflict",
                                    "too_large", "unavailable", "server", "bad_request",
                                    "csrf"), "admin/middlewares.py _error_page"),
    ("admin", "dashboard.notices.saved.{}", ("immediate", "daily", "off"),
     "admin/dashboard.py save_notices (hub.notices.CHOICES)"),
    ("admin", "{}.count", ("portfolio", "contacts", "documents"),
     "admin/templates/_macros.html count_line (a plural)"),
    ("admin", "role.{}", ("administrator", "collaborator", "rights_manager"),
     "admin/templates/layout.html"),
)  # fmt: skip

# Keys whose last word is "other" without being a plural: tenant.reason.{reason} (hub.tenant's
# reasons, one of which is "other").
NOT_PLURALS = frozenset({"tenant.reason"})

KEY = r"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"
USES = (
    re.compile(r"\bt\(\s*[\"']" + KEY + r"[\"']\s*[,)]"),
    re.compile(r"\btn\(\s*[\"']" + KEY + r"[\"']\s*,"),
    re.compile(r"\.plural\(\s*[\"']" + KEY + r"[\"']\s*,"),
    re.compile(r"\bkey=[\"']" + KEY + r"[\"']"),
    re.compile(r"\bflash\(\s*request,\s*\"\w+\",\s*\"" + KEY + r"\""),
    re.compile(r"\(\s*\"" + KEY + r"\",\s*\{"),
)


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def _families(keys: set[str]) -> set[str]:
    plural = (".one", ".other")
    found = {key.rsplit(".", 1)[0] for key in keys if key.endswith(plural)}
    return found - NOT_PLURALS


@pytest.mark.parametrize("face", FACES)
def test_french_and_english_hold_the_same_keys_with_the_same_placeholders(face: str) -> None:
    fr, en = catalog(face, "fr"), catalog(face, "en")
    assert sorted(set(fr) - set(en)) == [], "in French only"
    assert sorted(set(en) - set(fr)) == [], "in English only"
    differ = {k: (_placeholders(fr[k]), _placeholders(en[k])) for k in fr}
    assert {k: v for k, v in differ.items() if v[0] != v[1]} == {}


@pytest.mark.parametrize("face", FACES)
def test_plurals_have_the_forms_cldr_needs_in_both_languages(face: str) -> None:
    for lang in LANGUAGES:
        messages = catalog(face, lang)
        families = _families(set(messages))
        for family in families:
            forms = {k.removeprefix(family + ".") for k in messages if k.startswith(family + ".")}
            assert set(REQUIRED_PLURAL_FORMS) <= forms, (lang, family, forms)
            assert forms <= set(PLURAL_FORMS), (lang, family, forms)
            # A plural is a family of forms, never a message of its own as well.
            assert family not in messages, (lang, family)
        # Every CLDR category of the language is a form, or falls back to "other" (French
        # "many", for millions) through Translator.plural.
        needed = set(Locale.parse(lang).plural_form.tags) | {"other"}
        assert needed - set(REQUIRED_PLURAL_FORMS) <= {"many"}, (lang, needed)


@pytest.mark.parametrize("face", FACES)
def test_no_catalog_spells_plurals_the_old_way(face: str) -> None:
    old = re.compile(r"(\.(0|1|n|many|none)|_one|_many)$")
    keys = {k for lang in LANGUAGES for k in catalog(face, lang) if old.search(k)}
    # "…_too_many" and friends are words, not plural forms.
    keys = {k for k in keys if not k.endswith("_too_many") and not k.endswith("connections.one")}
    # A ".none" with no plural family beside it is a word too ("history.attempts.none").
    families = _families({k for lang in LANGUAGES for k in catalog(face, lang)})
    keys = {k for k in keys if not k.endswith(".none") or k.rsplit(".", 1)[0] in families}
    # ".1" alone (the first step of a list: "tenant.how.1") is not a plural either.
    keys = {k for k in keys if not re.search(r"\.\d+$", k) or k.rsplit(".", 1)[0] in families}
    assert keys == set()


def _sources() -> Iterator[tuple[str, Path]]:
    for folder, face in SPEAKS.items():
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".html") and "locales" not in path.parts:
                yield face, path


def _exists(face: str, key: str) -> bool:
    messages = catalog(face, "fr")
    return key in messages or f"{key}.other" in messages


def test_every_key_the_code_names_is_in_its_catalog() -> None:
    anywhere = {face: set(catalog(face, "fr")) for face in FACES}
    missing: dict[str, list[str]] = {}
    found = 0
    for face, path in _sources():
        text = path.read_text("utf-8")
        for pattern in USES:
            for match in pattern.finditer(text):
                found += 1
                key = match.group(1)
                if _exists(face, key):
                    continue
                # An error's key (key="…") raised in the hub is shown by whichever face meets it.
                if pattern is USES[3] and any(_exists(f, key) for f in anywhere):
                    continue
                missing.setdefault(str(path.relative_to(ROOT)), []).append(key)
    assert found > 900  # the scan does see the code
    assert missing == {}


@pytest.mark.parametrize(("face", "pattern", "values", "where"), DYNAMIC)
def test_every_key_built_at_run_time_is_in_its_catalog(
    face: str, pattern: str, values: tuple[str, ...], where: str
) -> None:
    assert [pattern.format(v) for v in values if not _exists(face, pattern.format(v))] == [], where


def test_plural_keys_used_as_plurals_are_plural_families() -> None:
    """``tn("x", n)`` needs the family ``x.one``/``x.other``, not a single message."""
    plural_use = re.compile(r"\b(?:tn|\.plural)\(\s*[\"']" + KEY + r"[\"']\s*,")
    wrong = []
    for face, path in _sources():
        for match in plural_use.finditer(path.read_text("utf-8")):
            if not Translator(face, "fr").is_plural(match.group(1)):
                wrong.append((str(path.relative_to(ROOT)), match.group(1)))
    assert wrong == []


# --------------------------------------------------------------------------- the words themselves

# English a French reader would meet in the French catalogs ("tenant" is jargon to an
# accountant and to a client: the firm's Microsoft space is "l'espace Microsoft du cabinet").
# Product and format names are not English words here: Teams, Microsoft, Entra, OCR, CSV, API.
ENGLISH = (
    "tenant", "tenants", "email", "emails", "the", "you", "your", "please", "failed", "sent",
    "upload", "uploaded", "dashboard", "click", "settings", "delivery", "deliveries", "retry",
    "error", "folder", "folders", "save", "saved", "cancel", "token", "tokens", "sign in",
    "engagement manager", "and", "with", "not", "yet",
)  # fmt: skip
# French an English reader would meet in the English catalogs. "dossier" is the product's English
# word too (docs/design.md, glossary), so it is not here.
FRENCH = (
    "le", "la", "les", "du", "des", "vous", "votre", "vos", "nous", "envoyé", "envoyée",
    "échec", "échoué", "répertoire", "répertoires", "interlocuteur", "interlocuteurs", "et",
    "pour", "avec", "être", "déjà", "aucun", "aucune", "fichier", "fichiers", "ajoutée",
    "supprimée", "cabinet", "mois", "jours",
)  # fmt: skip
# Where a foreign word is what the reader must type or read verbatim.
VERBATIM = {
    ("admin", "import.column.staff.rights_manager"): {"yes", "no"},  # the file's accepted values
}


def _words(text: str, words: tuple[str, ...], *, ignore_case: bool) -> list[str]:
    text = re.sub(r"\{[^}]*\}", " ", text)  # placeholders are names, not words
    flags = re.IGNORECASE if ignore_case else 0
    found = []
    for word in words:
        if re.search(r"(?<![\w'’-])" + re.escape(word) + r"(?![\w'’-])", text, flags):
            found.append(word)
    return found


@pytest.mark.parametrize("face", FACES)
def test_the_french_catalogs_hold_no_english(face: str) -> None:
    found = {}
    for key, text in catalog(face, "fr").items():
        words = set(_words(text, ENGLISH, ignore_case=True)) - VERBATIM.get((face, key), set())
        if words:
            found[key] = sorted(words)
    assert found == {}


@pytest.mark.parametrize("face", FACES)
def test_the_english_catalogs_hold_no_french(face: str) -> None:
    found = {}
    for key, text in catalog(face, "en").items():
        words = _words(text, FRENCH, ignore_case=False)
        if words:
            found[key] = words
    assert found == {}


@pytest.mark.parametrize("face", FACES)
def test_french_says_e_mail_mo_ko_and_elides_de(face: str) -> None:
    wrong = {}
    for key, text in catalog(face, "fr").items():
        bare = re.sub(r"\{[^}]*\}", " ", text)
        if re.search(r"\b\d*\s*[KMG]B\b", bare):
            wrong[key] = "sizes are o, Ko, Mo, Go in French"
        elif re.search(r"(?<![\w-])e?mails?\b", bare, re.IGNORECASE) and not re.search(
            r"e-mails?", bare, re.IGNORECASE
        ):
            wrong[key] = "e-mail, with its hyphen"
        elif re.search(r"\bde (?=[aeiouyéèêàâîôûAEIOUYÉÈÊ])", bare):
            wrong[key] = "d' before a vowel"
        elif re.search(r"\bde \{(label|application|app)\}", text):
            wrong[key] = "de {label}: an application's name may start with a vowel (d'OCR)"
    assert wrong == {}


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_message_is_a_raw_key(face: str, lang: str) -> None:
    raw = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    assert {k: v for k, v in catalog(face, lang).items() if raw.match(v.strip())} == {}

"""The Translator: messages that never raise, CLDR plurals, and Babel's numbers, sizes and dates."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest

from hub.i18n import Translator, fill, language_of, plural_category

FR = Translator("admin", "fr")
EN = Translator("admin", "en")
# French spaces thousands with a narrow no-break space (CLDR).
NNBSP = "\u202f"


def test_languages_we_do_not_speak_read_french() -> None:
    assert language_of("en-GB") == "en"
    assert language_of("fr_CA") == "fr"
    assert language_of("de-DE") == "fr"
    assert language_of(None) == "fr"


def test_a_message_in_each_language_and_a_missing_key_shows_itself() -> None:
    assert FR("nav.team") == "Équipe"
    assert EN("nav.team") == "Team"
    assert FR("no.such.key") == "no.such.key"


def test_a_missing_parameter_never_raises_it_is_logged_and_the_text_still_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.i18n"):
        # "Modifications enregistrées pour {name}." without its name.
        assert FR("team.saved", other="x") == "Modifications enregistrées pour ."
        assert FR("team.saved", name="Claire") == "Modifications enregistrées pour Claire."
    assert any("team.saved" in r.getMessage() and "name" in r.getMessage() for r in caplog.records)


def test_without_parameters_a_text_comes_as_written() -> None:
    # A template the page's script fills in.
    assert FR("documents.upload.chosen") == "{count} fichiers choisis"


def test_fill_survives_positional_and_malformed_placeholders() -> None:
    assert fill("{0} and {who}", {"who": "Anne"}) == " and Anne"
    assert fill("a { brace", {"x": 1}) == "a { brace"
    assert fill("{n:d} files", {"n": "three"}) == "three files"


def test_cldr_plural_categories() -> None:
    # French counts 0 and 1 as singular; English only 1; French "many" is for millions.
    assert [plural_category("fr", n) for n in (0, 1, 2, 1_000_000)] == [
        "one",
        "one",
        "other",
        "many",
    ]
    assert [plural_category("en", n) for n in (0, 1, 2, 1_000_000)] == [
        "other",
        "one",
        "other",
        "other",
    ]


def test_plurals_pick_the_form_and_an_explicit_zero() -> None:
    assert FR.plural("documents.count", 0) == FR("documents.count.zero")
    assert EN.plural("documents.count", 1) == "1 document"
    assert EN.plural("documents.count", 3) == "3 documents"
    assert FR.plural("documents.count", 3) == "3 documents"
    # Called as a message with its count, a plural picks its form the same way.
    assert EN("documents.count", count=3) == "3 documents"
    # Counts are written the language's way; French "many" (a million) reads the "other" form.
    assert FR.plural("documents.count", 1_000_000) == f"1{NNBSP}000{NNBSP}000 documents"
    assert EN.plural("documents.count", 1200) == "1,200 documents"


def test_numbers() -> None:
    assert FR.number(12345.5) == f"12{NNBSP}345,5"
    assert EN.number(12345.5) == "12,345.5"
    assert EN.number(3) == "3"


@pytest.mark.parametrize(
    ("size", "fr", "en"),
    [
        (512, "512 o", "512 B"),
        (1536, "1,5 Ko", "1.5 KB"),
        (25 * 1024 * 1024, "25 Mo", "25 MB"),
        (int(2.25 * 1024 * 1024), "2,2 Mo", "2.2 MB"),
        (150 * 1024 * 1024, "150 Mo", "150 MB"),
        (3 * 1024**3, "3 Go", "3 GB"),
    ],
)
def test_file_sizes(size: int, fr: str, en: str) -> None:
    assert FR.size(size) == fr
    assert EN.size(size) == en


def test_dates_and_times_in_the_firms_zone() -> None:
    # 23:30 UTC on 31 March is already 1 April in Paris (summer time, UTC+2).
    moment = datetime(2026, 3, 31, 23, 30, 5, tzinfo=UTC)
    assert FR.datetime(moment) == "01/04/2026 01:30"
    assert EN.datetime(moment) == "2026-04-01 01:30"
    assert FR.datetime(moment, seconds=True) == "01/04/2026 01:30:05"
    assert FR.date(moment) == "01/04/2026"
    assert EN.time(moment) == "01:30"
    # In winter Paris is UTC+1; a naive moment is read as UTC.
    assert FR.datetime(datetime(2026, 1, 15, 8, 0)) == "15/01/2026 09:00"
    assert EN.date(date(2026, 11, 23)) == "2026-11-23"


def test_another_zone_is_passed_in() -> None:
    moment = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    assert Translator("admin", "fr", "UTC").datetime(moment) == "31/03/2026 23:30"
    assert Translator("admin", "en", "America/New_York").time(moment) == "19:30"

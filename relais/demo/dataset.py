"""The demo firm's data, read from the files of ``relais/demo/data/`` (shipped in the wheel).

Who works at the firm (``staff.csv``), the firm itself and its folders (``firm.json``), the parts
French company names and the contacts' names are drawn from (``company_names.json``,
``contact_names.json``), the partner applications and how they are connected
(``applications.json``), the month of documents (``documents.csv``) and what the applications
answered when they refused one (``answers.json``). The files are read once, on import: they are
small, and the demo needs all of them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, NamedTuple


def _text(name: str) -> str:
    return (files("relais.demo") / "data" / name).read_text(encoding="utf-8")


def _json(name: str) -> Any:
    return json.loads(_text(name))


def _csv(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_text(name))))


class StaffRow(NamedTuple):
    """One person of the firm's staff. A tuple, so that ``DEMO_STAFF[0][0]`` is an object id."""

    object_id: str
    name: str
    email_local: str  # before the firm's domain
    role: str
    rights_manager: bool
    locale: str


@dataclass(frozen=True)
class FirmData:
    name: str
    domain: str
    sic_codes: tuple[str, ...]
    folders: tuple[str, ...]  # the top folders; each gets one subfolder per year
    years: tuple[str, ...]


@dataclass(frozen=True)
class NameParts:
    """What names are drawn from, with a seeded random generator (the draw is the data)."""

    prefixes: tuple[str, ...]  # company names: "Boulangerie" …
    names: tuple[str, ...]  # … "Dupont" …
    places: tuple[str, ...]  # … "du Centre" …
    forms: tuple[str, ...]  # … "SARL"
    first: tuple[str, ...]  # the contacts' first names
    last: tuple[str, ...]  # and last names


@dataclass(frozen=True)
class DemoApplication:
    """A partner application the demo firm added, and the dossiers it is connected to."""

    app: str  # catalog slug
    # Connected folders, the first one chosen in the wizard's step 1; none for the applications
    # offered to contacts (Start, Co-production…), which ``proposer`` offers dossier by dossier.
    folders: tuple[str, ...] = ()
    # Which of each person's chosen dossiers are connected (0 … dossiers_per_person - 1).
    slots: tuple[int, ...] = ()
    # The dossier's code at the application or its collection address, formatted with ``code``
    # (the dossier's, lower case), ``domain`` (the firm's) and ``serial`` (see ``serial``).
    value: str = ""
    api_key_id: str = ""
    secret: str = ""
    api_url: str = ""
    partner_email: str = ""  # the application's own address, when the wizard asks for it
    firm_sic_code: bool = False  # the firm's first SIC code on the application
    serial: tuple[int, int] = (0, 1)  # start, step: serial = start + step × the dossier's index
    # Deleted from the firm this many days ago, after its documents came (0: kept): what leaves
    # deliveries failed "application deleted" in History.
    deleted_days_ago: int = 0

    @property
    def by_api(self) -> bool:
        """Delivered over HTTP: to the partner stand-in, in the demo."""
        return bool(self.api_url)


@dataclass(frozen=True)
class DemoDocument:
    """One demo document: where, what, when, by whom, and what became of its deliveries."""

    slot: int  # index in the chosen dossiers (dossiers_per_person per person, in DEMO_STAFF order)
    folder: str
    name: str
    days_ago: int
    hour: int
    # One outcome per version: sent | pending | gave_up | a failure reason (connectors.outcomes).
    outcomes: tuple[str, ...]
    by: str  # master | contact (the dossier's guest, through the bot) | admin
    size: int  # pad the file to this size (a scan too large for the application); 0: as made


@dataclass(frozen=True)
class Answer:
    """What an application answered when it refused a document, by API and by mail."""

    api: str  # formatted with ``code``: the dossier's code at the application
    mail: str  # formatted with ``email``: the collection address


def _staff() -> list[StaffRow]:
    return [
        StaffRow(
            row["object_id"],
            row["name"],
            row["email_local"],
            row["role"],
            row["rights_manager"] == "yes",
            row["locale"],
        )
        for row in _csv("staff.csv")
    ]


def _firm() -> FirmData:
    data = _json("firm.json")
    return FirmData(
        name=data["name"],
        domain=data["domain"],
        sic_codes=tuple(data["sic_codes"]),
        folders=tuple(data["folders"]),
        years=tuple(data["years"]),
    )


def _names() -> NameParts:
    companies = _json("company_names.json")
    contacts = _json("contact_names.json")
    return NameParts(
        prefixes=tuple(companies["prefixes"]),
        names=tuple(companies["names"]),
        places=tuple(companies["places"]),
        forms=tuple(companies["forms"]),
        first=tuple(contacts["first"]),
        last=tuple(contacts["last"]),
    )


def _applications() -> tuple[int, int, tuple[DemoApplication, ...]]:
    data = _json("applications.json")
    applications = tuple(
        DemoApplication(
            **{
                **entry,
                "folders": tuple(entry.get("folders", ())),
                "slots": tuple(entry.get("slots", ())),
                "serial": tuple(entry.get("serial", (0, 1))),
            }
        )
        for entry in data["applications"]
    )
    return data["dossiers_per_person"], data["connected_days_ago"], applications


def _documents() -> tuple[DemoDocument, ...]:
    return tuple(
        DemoDocument(
            slot=int(row["slot"]),
            folder=row["folder"],
            name=row["name"],
            days_ago=int(row["days_ago"]),
            hour=int(row["hour"]),
            outcomes=tuple(row["outcomes"].split()),
            by=row["by"],
            size=int(row["size"]),
        )
        for row in _csv("documents.csv")
    )


def _answers() -> dict[str, Answer]:
    return {reason: Answer(**texts) for reason, texts in _json("answers.json").items()}


DEMO_STAFF: list[StaffRow] = _staff()
FIRM: FirmData = _firm()
NAMES: NameParts = _names()
DOSSIERS_PER_PERSON, CONNECTED_DAYS_AGO, APPLICATIONS = _applications()
DOCUMENTS: tuple[DemoDocument, ...] = _documents()
ANSWERS: dict[str, Answer] = _answers()

"""The audit log speaks the reader's language for every kind of event the code records: a
sentence and a filter label for each kind, a word for each kind of object, the application's
name on its rows, never a code (``application.added``) nor an English sentence on the French page.

The kinds are found in the code itself (every ``record(...)`` and the helpers that pass a kind to
it), so a new kind without its words fails here, not on a firm's audit page."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub import applications as apps
from hub import tokens
from hub.applications import Definition
from hub.audit.events import ACTIONS, TARGETS
from hub.i18n import LANGUAGES, catalog
from hub.identity import resolve
from hub.settings import Settings
from relais.demo import DEMO_TENANT_ID
from relais.services import build_services
from storage.models import AuditEvent
from tests.admin.conftest import CLAIRE, JAMES, Client, visible

ROOT = Path(__file__).resolve().parents[2]
KIND = re.compile(r"^[a-z_]+\.[a-z_]+$")
# The functions that take a kind, and the position of the kind among their arguments.
TAKES_KIND = {"record": 3, "record_change": 3, "record_for_contact": 2, "_save": 4}


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _called(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.attr if func.value.id == "audit" else ""
    return ""


def _kinds_of(node: ast.expr, function: ast.AST) -> tuple[set[str], set[str]]:
    """(kinds, f-string patterns) a kind argument may take."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}, set()
    if isinstance(node, ast.IfExp):
        a, b = _kinds_of(node.body, function), _kinds_of(node.orelse, function)
        return a[0] | b[0], a[1] | b[1]
    if isinstance(node, ast.JoinedStr):
        pattern = "".join(
            re.escape(v.value) if isinstance(v, ast.Constant) else r"\w+" for v in node.values
        )
        return set(), {pattern}
    if isinstance(node, ast.Name):
        assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        if node.id in {a.arg for a in function.args.args + function.args.kwonlyargs}:
            return set(), set()  # a parameter: its callers are scanned
        # A local: every kind spelt in what is assigned to it (``action = "invitation.sent"``,
        # a dict of them).
        values = [
            a.value
            for a in ast.walk(function)
            if isinstance(a, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)
        ]
        return {
            c.value
            for value in values
            for c in ast.walk(value)
            if isinstance(c, ast.Constant) and isinstance(c.value, str) and KIND.match(c.value)
        }, set()
    raise AssertionError(f"a kind the scan cannot read: {ast.dump(node)}")


def recorded() -> tuple[set[str], set[str], set[str]]:
    """Every kind the code records, the f-string patterns among them, and every target type."""
    kinds: set[str] = set()
    patterns: set[str] = set()
    targets: set[str] = set()
    for folder in ("admin", "api", "bot", "connectors", "hub", "relais"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text("utf-8"))
            for function in _functions(tree):
                for call in ast.walk(function):
                    if not isinstance(call, ast.Call) or _called(call) not in TAKES_KIND:
                        continue
                    at = TAKES_KIND[_called(call)]
                    if len(call.args) <= at:
                        continue
                    found, shapes = _kinds_of(call.args[at], function)
                    kinds |= found
                    patterns |= shapes
                    if _called(call) == "record" and len(call.args) > at + 1:
                        target = call.args[at + 1]
                        if isinstance(target, ast.Constant):
                            targets.add(target.value)
    return kinds, patterns, targets


def test_every_kind_the_code_records_is_listed_and_every_listed_kind_is_recorded() -> None:
    kinds, patterns, targets = recorded()
    assert len(kinds) > 30  # the scan does see the code
    assert kinds - ACTIONS == set()
    assert {p for p in patterns if not any(re.fullmatch(p, a) for a in ACTIONS)} == set()
    stale = {a for a in ACTIONS - kinds if not any(re.fullmatch(p, a) for p in patterns)}
    assert stale == set()
    assert targets - TARGETS == set()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_both_catalogs_have_a_sentence_and_a_label_for_every_kind_and_object(lang: str) -> None:
    messages = catalog("admin", lang)
    missing = [
        key
        for key in (
            *(f"audit.action.{a}" for a in sorted(ACTIONS)),
            *(f"audit.label.{a}" for a in sorted(ACTIONS)),
            *(f"audit.target.{t}" for t in sorted(TARGETS)),
        )
        if not messages.get(key)
    ]
    assert missing == []


def _placeholders(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


async def _one_of_each(sessions: Any, firm_id: int, actor: str) -> None:
    """One event of every kind, with a value for each of its sentence's placeholders."""
    french = catalog("admin", "fr")
    async with sessions() as session, session.begin():
        for action in sorted(ACTIONS):
            details = {p: "7" for p in _placeholders(french[f"audit.action.{action}"])}
            details.pop("target", None)
            session.add(
                AuditEvent(
                    firm_id=firm_id,
                    actor=actor,
                    action=action,
                    target_type="firm",
                    target_id=str(firm_id),
                    details=details,
                )
            )


# The codes a person must never read ("dossier", "contact" are words as well as target types).
CODES = ACTIONS | {t for t in TARGETS if "_" in t}
RAW = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in sorted(CODES)) + r")\b")


@pytest.mark.parametrize(("who", "lang"), [(CLAIRE, "fr"), (JAMES, "en")])
async def test_the_audit_page_shows_no_code_and_names_the_application(
    client: Client,
    signed_in: Any,
    settings: Settings,
    sessions: Any,
    demo: Any,
    who: str,
    lang: str,
) -> None:
    hub = build_services(settings, sessions)
    actor = await resolve(sessions, DEMO_TENANT_ID, who)
    claire = await resolve(sessions, DEMO_TENANT_ID, CLAIRE)
    await apps.add_application(hub, claire, Definition(app="collecte-notes-de-frais"))
    await tokens.create_token(hub, claire, "Outil de saisie")
    await _one_of_each(sessions, demo.firm_id, actor.ref)
    await signed_in(who)
    page = await (await client.get("/admin/audit", params={"actor": actor.ref})).text()
    text = visible(page)
    assert "<code>" not in page
    assert RAW.findall(text) == []
    assert "{" not in text
    if lang == "fr":
        assert "talked to the bot" not in text
    # The filter offers every kind by its label, never by its code.
    options = re.findall(r'<option value="([a-z_]+\.[a-z_]+)"[^>]*>([^<]+)</option>', page)
    assert len(options) >= len(ACTIONS) - 1
    assert [code for code, label in options if code == label] == []

    if who == CLAIRE:
        assert "A ajouté l'application Notes de frais par e-mail" in text
        assert "A créé le jeton d'API « Outil de saisie »" in text
    else:
        # James sees only his own events; Claire's application is named on hers.
        assert "Notes de frais" not in text


async def test_an_offer_left_pending_says_why_in_the_readers_language(
    client: Client, signed_in: Any, sessions: Any, demo: Any
) -> None:
    claire = await resolve(sessions, DEMO_TENANT_ID, CLAIRE)
    async with sessions() as session, session.begin():
        session.add(
            AuditEvent(
                firm_id=demo.firm_id,
                actor=claire.ref,
                action="offer.unreachable",
                target_type="contact",
                target_id="0",
                details={
                    "reason": "nobody of the firm has talked to the bot yet",
                    "reason_key": "offers.undelivered.no_reach",
                    "reason_params": {"contact": "Gaëlle"},
                },
            )
        )
    await signed_in(CLAIRE)
    text = visible(await (await client.get("/admin/audit")).text())
    assert "talked to the bot" not in text
    assert "Relais ne peut pas encore joindre vos clients dans Teams" in text

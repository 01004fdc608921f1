"""Microsoft 365 Agents Playground files for the demo: talking to the bot as in Teams.

The Playground (npm ``@microsoft/m365agentsplayground``) reads ``.m365agentsplayground.yml`` in
the folder it starts in, or the file ``M365_AGENTS_PLAYGROUND_CONFIG_PATH`` names: the tenant, the
bot, the person at the keyboard (``currentUser``) and exactly five other users (its schema,
version 0.1.1). :func:`write_playground_files` writes two, in the demo's working folder: one as
the firm's administrator, one as a guest contact, both on the demo tenant with the people's real
demo Entra object ids (``aadObjectId``, which Relais recognises people by). JSON is YAML: the
files are JSON after a comment line that marks them as the demo's (a file without it, the
person's own, is left alone).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from relais.demo.firm import DemoInfo, DemoPerson

STAFF_FILE = ".m365agentsplayground.yml"
CONTACT_FILE = ".m365agentsplayground.contact.yml"
MARK = "# Written by `relais demo` at each start (Microsoft 365 Agents Playground, schema 0.1.1)."
CONTACT_PORT = 56151

log = logging.getLogger(__name__)


def _user(person: DemoPerson) -> dict[str, str]:
    given, _, surname = person.name.partition(" ")
    return {
        "id": person.object_id,
        "name": person.name,
        "userPrincipleName": person.email,  # sic: the schema's spelling
        "aadObjectId": person.object_id,
        "givenName": given,
        "surname": surname or given,
        "email": person.email,
    }


def playground_config(
    info: DemoInfo, current: DemoPerson, others: list[DemoPerson], bot_id: str, chat: str
) -> dict[str, Any]:
    return {
        "version": "0.1.1",
        "tenantId": info.tenant_id,
        "bot": {"id": bot_id, "name": "Relais (démo)"},
        "currentUser": _user(current),
        "users": [_user(p) for p in others[:5]],
        "personalChat": {"id": f"relais-demo-personal-{chat}"},
        "groupChat": {"id": f"relais-demo-group-{chat}", "name": info.firm_name},
        "team": {
            "id": f"relais-demo-team-{chat}",
            "name": info.firm_name,
            "aadGroupId": "de300000-0000-4000-8000-0000000a7ea0",
            "channels": [{"id": f"relais-demo-channel-{chat}", "name": "Général"}],
        },
    }


def _write(path: Path, config: dict[str, Any]) -> bool:
    try:
        if path.exists() and not path.read_text(errors="replace").startswith(MARK):
            return False
        path.write_text(f"{MARK}\n{json.dumps(config, ensure_ascii=False, indent=2)}\n")
    except OSError as error:  # a read-only folder: the demo serves all the same
        log.warning("%s not written: %s", path, error)
        return False
    return True


def write_playground_files(folder: Path, info: DemoInfo, bot_id: str) -> list[Path]:
    """The administrator's file and a guest contact's, in ``folder``; the ones written."""
    staff = info.staff
    admin = next((p for p in staff if p.role == "administrator"), staff[0])
    colleagues = [p for p in staff if p is not admin]
    contact, *other_contacts = info.contacts
    as_staff = playground_config(
        info, admin, [*colleagues[:3], *info.contacts[:2]], bot_id, "staff"
    )
    others = [*other_contacts[:2], admin, *colleagues[:2]]
    as_contact = playground_config(info, contact, others, bot_id, "contact")
    written = []
    for name, config in ((STAFF_FILE, as_staff), (CONTACT_FILE, as_contact)):
        if _write(folder / name, config):
            written.append(folder / name)
    return written


def commands(endpoint: str) -> tuple[str, str]:
    """The commands that open the Playground against the demo, as staff and as a contact."""
    base = f"npx @microsoft/m365agentsplayground -e {endpoint} -c msteams"
    return base, f"M365_AGENTS_PLAYGROUND_CONFIG_PATH={CONTACT_FILE} {base} -p {CONTACT_PORT}"

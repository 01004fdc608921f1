"""The letters telling dossier masters that an application was deleted and their contacts lost it."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence

from connectors.mail import Mail, MailError
from hub.applications.views import CatalogEntry, RevokedAccess
from hub.i18n import Translator
from hub.identity import Actor
from hub.services import Hub
from storage.models import StaffUser

log = logging.getLogger(__name__)


def letters(
    actor: Actor,
    entry: CatalogEntry,
    revoked: Sequence[RevokedAccess],
    masters: Mapping[int, StaffUser],
) -> list[tuple[str, Mail]]:
    """One mail per dossier master, listing that master's dossiers and contacts affected."""
    by_master: dict[int, list[RevokedAccess]] = defaultdict(list)
    for r in revoked:
        if r.master_id is not None and r.master_id in masters:
            by_master[r.master_id].append(r)
    letters: list[tuple[str, Mail]] = []
    for master_id, lines in by_master.items():
        master = masters[master_id]
        t = Translator("hub", master.locale)
        body = "\n".join(
            [
                t(
                    "mail.application_deleted.intro",
                    name=master.display_name,
                    actor=actor.display_name,
                    app=entry.label,
                    firm=actor.firm_name,
                ),
                "",
                *(
                    t(
                        "mail.application_deleted.line",
                        code=r.dossier_code,
                        dossier=r.dossier_name,
                        contact=r.contact,
                        email=r.contact_email,
                    )
                    for r in lines
                ),
                "",
                t("mail.application_deleted.outro"),
            ]
        )
        mail = Mail(
            to=(master.email,),
            subject=t("mail.application_deleted.subject", app=entry.label),
            text=body,
        )
        letters.append((master.email, mail))
    return letters


async def send_letters(
    hub: Hub, entry: CatalogEntry, mails: Sequence[tuple[str, Mail]]
) -> tuple[int, list[str]]:
    """Send them one by one: how many went, and the addresses that could not be reached (a
    failed mail is logged, never raised: the deletion it tells of is already committed)."""
    sent, failures = 0, []
    for to, mail in mails:
        try:
            await hub.mailer.send(mail)
            sent += 1
        except MailError as error:
            log.warning("revocation mail for %s (%s) not sent: %s", entry.slug, to, error)
            failures.append(to)
    return sent, failures

"""Adding a client contact to a dossier (the bot's "invite" form), or finding the firm's contact
who already has that address."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from hub.audit import record
from hub.contacts.addresses import valid_email
from hub.contacts.links import add_link
from hub.errors import InvalidInput
from hub.identity import Actor
from hub.portfolio import dossier_by_code
from hub.rights import require_activate
from hub.services import Hub
from storage.models import Contact, Firm


@dataclass(frozen=True)
class CreatedContact:
    id: int
    name: str
    email: str
    created: bool  # False: a contact of the firm already had this address
    linked: bool  # True: the contact was linked to the dossier just now


def _checked(first_name: str, last_name: str, email: str) -> tuple[str, str, str]:
    """The names and address trimmed, or :class:`InvalidInput` naming the wrong field."""
    first, last, address = first_name.strip(), last_name.strip(), email.strip().lower()
    for field, value in (("first_name", first), ("last_name", last)):
        if not value or len(value) > 100:
            raise InvalidInput(
                f"{field} is empty or too long", field=field, key=f"contacts.{field}_missing"
            )
    if not valid_email(address):
        raise InvalidInput(
            f"{address!r} is not a valid address",
            field="email",
            key="invitations.bad_email",
            contact=f"{first} {last}",
            email=email.strip(),
        )
    return first, last, address


async def create_contact(
    hub: Hub, actor: Actor, first_name: str, last_name: str, email: str, dossier_code: str
) -> CreatedContact:
    """Add a client contact to a dossier, or find the firm's contact who has this address and
    link them to it.

    Takes the right to activate applications on the dossier (who may invite a contact of that
    dossier). Raises :class:`InvalidInput` with ``field`` ``first_name``, ``last_name`` or
    ``email`` for a missing name or an address that cannot be invited; nothing is written then.
    """
    first, last, address = _checked(first_name, last_name, email)
    async with hub.sessions() as session, session.begin():
        dossier = await dossier_by_code(session, actor, dossier_code)
        require_activate(actor, dossier)
        contact = await session.scalar(
            select(Contact).where(
                Contact.firm_id == actor.firm_id, func.lower(Contact.email) == address
            )
        )
        created = contact is None
        if contact is None:
            contact = Contact(
                firm_id=actor.firm_id,
                first_name=first,
                last_name=last,
                email=address,
                locale=await session.scalar(
                    select(Firm.default_locale).where(Firm.id == actor.firm_id)
                )
                or "fr",
            )
            session.add(contact)
            await session.flush()
            record(
                session,
                actor.firm_id,
                actor.ref,
                "contact.created",
                "contact",
                contact.id,
                contact=contact.email,
                dossier=dossier.code,
            )
        linked = await add_link(session, actor, contact, dossier)
        return CreatedContact(contact.id, contact.display_name, contact.email, created, linked)

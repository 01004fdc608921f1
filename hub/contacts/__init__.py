"""The firm's client contacts: the directory, their links to dossiers, adding one, and inviting
them as guests on the firm's tenant.

``directory`` lists contacts and shows one (:func:`contact_by_id` is how the capability finds
one, scoped by firm); ``links`` links and unlinks a contact and a dossier; ``create`` adds a
contact to a dossier (the bot's "invite" form); ``addresses`` is the one e-mail rule;
``invitation`` is a contact's invitation as the faces see it and who may invite; ``invite`` sends
the B2B invitation; ``refresh`` checks whether the guest accepted, on demand or in the
background. Tenant consent, which invitations need, is a capability of its own
(:mod:`hub.tenant`): it belongs to the firm and its administrators, and offers need it too.
"""

from hub.contacts.addresses import valid_email
from hub.contacts.create import CreatedContact, create_contact
from hub.contacts.directory import (
    ContactCard,
    ContactRow,
    contact_card,
    contact_dossiers,
    dossiers_to_link,
    list_contacts,
)
from hub.contacts.invitation import InvitationView, contact_invitation
from hub.contacts.invite import invite_contact
from hub.contacts.links import link_dossier, unlink_dossier
from hub.contacts.refresh import refresh_contact, refresh_invitation, refresh_pending

__all__ = [
    "ContactCard",
    "ContactRow",
    "CreatedContact",
    "InvitationView",
    "contact_card",
    "contact_dossiers",
    "contact_invitation",
    "create_contact",
    "dossiers_to_link",
    "invite_contact",
    "link_dossier",
    "list_contacts",
    "refresh_contact",
    "refresh_invitation",
    "refresh_pending",
    "unlink_dossier",
    "valid_email",
]

"""Who may see and who may do what (seed 003 §4), checked in ``hub/`` for every entry point, bot,
panel and REST API alike: the one place these rules are written.

Seeing: :func:`visible_dossiers` is the dossiers a person may read. Administrators and rights
managers (and the firm's API tokens and the command line) see the whole firm; other staff the
dossiers they are master or engagement manager of (their portfolio); a client contact only the
dossiers they are linked to. A dossier one may not see answers :class:`~hub.errors.NotFound`, the
same as one that does not exist, wherever a use-case reads it.

Doing: each ``require_…`` raises :class:`~hub.errors.PermissionDenied` with a message key that says
why and what to do; use-cases call them before changing anything.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select

from hub.errors import PermissionDenied
from hub.identity import Actor
from storage.models import ContactDossier, Dossier

# Who reads the whole firm besides administrators and rights managers.
FIRM_WIDE = frozenset({"token", "system"})
# Who may read documents at all, each within what :func:`visible_dossiers` lets them see: the
# firm's staff, its API tokens, the command line (a contact only picks where to drop a file).
FIRM_READERS = frozenset({"staff", "token", "system"})

__all__ = [
    "FIRM_READERS",
    "FIRM_WIDE",
    "may_activate",
    "may_retry",
    "require_activate",
    "require_admin",
    "require_document_reader",
    "require_may_retry_somewhere",
    "require_staff",
    "sees_all_dossiers",
    "sees_whole_firm",
    "visible_dossier_ids",
    "visible_dossiers",
]


# --------------------------------------------------------------------------- who may do


def require_staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise PermissionDenied("staff only", key="rights.staff_only")


def require_admin(actor: Actor) -> None:
    """Adding, editing and deleting firm applications; imports; the rights-managers group."""
    if not actor.is_admin:
        raise PermissionDenied("administrators only", key="rights.admin_only")


def may_activate(actor: Actor, dossier: Dossier) -> bool:
    """Switching an application on or off for a dossier (and proposing it to a contact)."""
    if not actor.is_staff or dossier.firm_id != actor.firm_id:
        return False
    return (
        actor.is_admin
        or actor.rights_manager
        or dossier.master_id == actor.id
        or dossier.engagement_manager_id == actor.id
    )


def require_activate(actor: Actor, dossier: Dossier) -> None:
    if not may_activate(actor, dossier):
        raise PermissionDenied(
            f"{actor.ref} may not activate applications on {dossier.code}",
            key="rights.activate",
            dossier=dossier.code,
        )


def may_retry(actor: Actor, dossier: Dossier) -> bool:
    """Sending again is acting on the dossier: the people who may switch its applications on."""
    return may_activate(actor, dossier)


def require_may_retry_somewhere(actor: Actor) -> None:
    """Only staff send deliveries again (which ones: :func:`may_retry`, dossier by dossier)."""
    if not actor.is_staff:
        raise PermissionDenied(f"{actor.ref} may not retry deliveries", key="history.retry_denied")


def require_document_reader(actor: Actor) -> None:
    """Reading documents at all (which ones: :func:`visible_dossiers`)."""
    if actor.kind not in FIRM_READERS:
        raise PermissionDenied(f"{actor.ref} may not read documents", key="rights.staff_only")


# --------------------------------------------------------------------------- who may see


def sees_all_dossiers(actor: Actor) -> bool:
    """Administrators and rights managers see the whole firm; others their portfolio."""
    return actor.is_admin or actor.rights_manager


def sees_whole_firm(actor: Actor) -> bool:
    """Administrators and rights managers, and the firm's API tokens and the command line."""
    return actor.kind in FIRM_WIDE or (actor.is_staff and sees_all_dossiers(actor))


def visible_dossiers(actor: Actor) -> ColumnElement[bool]:
    """A condition on :class:`Dossier`: the dossiers ``actor`` may read (always firm-scoped)."""
    firm = Dossier.firm_id == actor.firm_id
    if sees_whole_firm(actor):
        return firm
    if actor.is_staff:
        return and_(
            firm, or_(Dossier.master_id == actor.id, Dossier.engagement_manager_id == actor.id)
        )
    if actor.kind == "contact":
        linked = select(ContactDossier.dossier_id).where(
            ContactDossier.firm_id == actor.firm_id, ContactDossier.contact_id == actor.id
        )
        return and_(firm, Dossier.id.in_(linked))
    return false()


def visible_dossier_ids(actor: Actor) -> ColumnElement[bool] | None:
    """A condition on a ``dossier_id`` column's subquery, or None when the actor sees the whole
    firm (the caller then filters on ``firm_id`` alone and uses the firm indexes)."""
    if sees_whole_firm(actor):
        return None
    return visible_dossiers(actor)

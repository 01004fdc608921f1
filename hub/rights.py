"""Who may do what (seed 003 §4), checked in ``hub/`` for every entry point, bot and panel alike.

Each check raises :class:`~hub.errors.PermissionDenied` with a message key that says why and what
to do; use-cases call them before changing anything.
"""

from __future__ import annotations

from hub.errors import PermissionDenied
from hub.identity import Actor
from storage.models import Dossier


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


def sees_all_dossiers(actor: Actor) -> bool:
    """Administrators and rights managers see the whole firm; others their portfolio."""
    return actor.is_admin or actor.rights_manager

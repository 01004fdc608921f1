"""The firm's staff: the list, roles and the rights-managers group (``staff``), and signing in
to the admin panel with its audit trail (``signin``), and the panel's sessions on the server
(``panel_sessions``: revoked at sign-out, ended when idle or too old).

Who the acting person is — a staff member or a contact — is resolved once, for every capability,
by :mod:`hub.identity`.
"""

from hub.team.panel_sessions import (
    EXPIRED,
    open_panel_session,
    resume_panel_session,
    revoke_panel_session,
)
from hub.team.signin import DemoChoice, demo_choices, sign_in, sign_out
from hub.team.staff import ROLES, StaffRow, list_staff, update_staff

__all__ = [
    "EXPIRED",
    "ROLES",
    "DemoChoice",
    "StaffRow",
    "demo_choices",
    "list_staff",
    "open_panel_session",
    "resume_panel_session",
    "revoke_panel_session",
    "sign_in",
    "sign_out",
    "update_staff",
]

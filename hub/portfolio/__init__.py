"""The firm's dossiers: the portfolio and the full list (status, Teams status, applications per
dossier), and the per-dossier applications dialog with its switches and contacts.

``listing`` pages the dossiers with their figures; ``dialog`` builds the applications dialog
(saving it is :func:`hub.offers.save_applications`); ``dossiers`` finds one dossier of the firm
and what hangs on it — the lookups the contacts and offers capabilities share. Linking contacts
to dossiers is :mod:`hub.contacts`.
"""

from hub.portfolio.dialog import (
    AppChoice,
    ApplicationsDialog,
    ContactChoice,
    DossierRef,
    applications_dialog,
    contact_choice,
)
from hub.portfolio.dossiers import (
    HELD,
    code_is,
    contacts_of_dossier,
    dossier_by_code,
    eligible,
    exact_code_first,
    firm_applications,
)
from hub.portfolio.listing import (
    SCOPES,
    DossierRow,
    PortfolioView,
    dossier_rows,
    dossier_search,
    list_dossiers,
    list_portfolio,
)

__all__ = [
    "HELD",
    "SCOPES",
    "AppChoice",
    "ApplicationsDialog",
    "ContactChoice",
    "DossierRef",
    "DossierRow",
    "PortfolioView",
    "applications_dialog",
    "code_is",
    "contact_choice",
    "contacts_of_dossier",
    "dossier_by_code",
    "dossier_rows",
    "dossier_search",
    "eligible",
    "exact_code_first",
    "firm_applications",
    "list_dossiers",
    "list_portfolio",
]

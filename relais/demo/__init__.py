"""The demo firm of ``relais demo``: Cabinet Durand & Associés, on the demo tenant.

:func:`seed` makes the firm (staff of each role, ~200 dossiers, contacts, the catalog;
:mod:`relais.demo.firm`), :func:`seed_activity` its month of documents and deliveries
(:mod:`relais.demo.activity`). What the firm is made of — people, names, folders, applications,
documents, partner answers — lives in data files under ``relais/demo/data/``, read by
:mod:`relais.demo.dataset`; the documents' bytes are made by :mod:`relais.demo.contents`. Both
seeds are idempotent and make the same firm, with the same identifiers, every time. Tests use the
demo firm where it is the point (the demo itself, the panel's browser tests); elsewhere they
arrange small scenes of their own (``tests/scenes.py``).

``relais demo`` also serves two stand-ins, real servers at their own addresses: the partner
applications' API (:mod:`relais.demo.partner`) and Microsoft Entra + Graph over HTTPS
(:mod:`relais.demo.graph`, its throw-away CA from :mod:`relais.demo.tls`); and it writes the
Agents Playground files (:mod:`relais.demo.playground`).
"""

from hub.settings import DEMO_TENANT_ID
from relais.demo.activity import ActivityInfo, seed_activity
from relais.demo.dataset import DEMO_STAFF, StaffRow
from relais.demo.firm import DEMO_DOMAIN, DEMO_FIRM_NAME, DemoInfo, DemoPerson, company_names, seed

__all__ = [
    "DEMO_DOMAIN",
    "DEMO_FIRM_NAME",
    "DEMO_STAFF",
    "DEMO_TENANT_ID",
    "ActivityInfo",
    "DemoInfo",
    "DemoPerson",
    "StaffRow",
    "company_names",
    "seed",
    "seed_activity",
]

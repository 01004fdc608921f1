"""The use-cases the faces share (bot, panel, REST API), as rooms by capability.

A use-case is a short async function taking the hub's services (:class:`hub.services.Hub`) and
the acting person (:class:`hub.identity.Actor`): it checks rights, changes data and writes the
audit event. Each capability is a package whose ``__init__`` lists its small public surface;
faces import from the package rather than from its modules. ``hub/`` imports neither aiohttp nor a
face; it reaches the outside world through ``connectors/`` and the database through
``storage/``.

Capabilities (packages)::

    portfolio/     the firm's dossiers: portfolio and full list (status, Teams status,
                   applications), the per-dossier applications dialog, dossier lookups
    contacts/      client contacts: directory, links to dossiers, adding one, guest invitations
                   on the firm's tenant (invite, check again, background refresh)
    team/          the staff (roles, rights managers) and signing in to the panel
    offers/        proposing services to contacts and their answers in Teams
    applications/  the firm's applications: list, add wizard, edit, delete, letters
    connections/   dossiers connected to automation applications: the connect wizard, imports
    documents/     receiving documents (intake) and browsing a dossier's folders
    history/       what happened to each document; dossier status; retrying deliveries
    dashboards/    failed sends and activity, CSV export, retry all matching
    notices/       telling dossier masters in Teams about failed sends
    imports/       CSV imports of staff, dossiers and contacts
    audit/         recording every state change, and the panel's audit log

Capabilities small enough for one module::

    tenant         tenant consent: the Graph permissions the firm's administrator grants
    folders        the firm's standard folder tree
    tokens         the firm's API tokens for the REST API
    conversations  where to reach people later (proactive messages)
    rotation       re-encrypting stored secrets under the newest key (relais keys rotate)

The shared kernel::

    identity       who is acting (Actor), resolved from tenant and object ids
    rights         who may see and do what: the one place these rules are written
    errors         the exception tree, documented once; each face shows it in one place
    settings       the one typed configuration object
    services       what a use-case needs besides the actor (Hub): sessions, settings, clients
    signals        hub signals the composition root connects (deliveries queued)
    ports          what the hub asks of the outside that a face implements (the Teams port)
    i18n           French and English: catalogs and Babel under one Translator
    paging         search and pagination shared by every list
    rounds         background rounds one process of the deployment runs at a time
    vault          secrets at rest (Fernet; the newest key seals, every configured key opens)
    keyring        the encryption keys: generating, telling strong from guessable, HKDF
"""

"""The ``relais`` command. A composition root, like :mod:`relais.app`: it may import every face.

What it prints is for the person at the terminal; what the server does afterwards goes to logs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from hub.errors import ConfigurationError, RelaisError
from hub.settings import Settings

if TYPE_CHECKING:
    from relais.demo import DemoInfo

log = logging.getLogger(__name__)


def _settings(**overrides: object) -> Settings:
    settings = Settings()
    return settings.model_copy(update=overrides) if overrides else settings


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The SDK's HTTP stack is chatty at INFO and may log headers; keep it to warnings.
    for noisy in ("msrest", "msal", "urllib3", "botframework", "httpx", "alembic", "azure"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _prepare_sqlite(settings: Settings) -> None:
    if settings.is_sqlite and ":memory:" not in settings.database_url:
        path = Path(settings.database_url.split(":///", 1)[1])
        path.parent.mkdir(parents=True, exist_ok=True)


def _upgrade(settings: Settings) -> str:
    from storage.migrate import head_revision, upgrade

    _prepare_sqlite(settings)
    upgrade(settings.database_url)
    return head_revision()


def _serve(
    settings: Settings,
    *,
    banner: str = "",
    worker: bool = True,
    beside: Callable[[web.Application], AsyncIterator[None]] | None = None,
) -> None:
    """Serve Relais; ``beside`` (a cleanup context) runs something else in the same loop for as
    long as it serves: the demo's partner stand-in."""
    from relais.app import build_app

    settings.check_for_serving()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings, worker=worker)
    if beside is not None:
        app.cleanup_ctx.append(beside)
    address = f"http://{settings.host}:{settings.port}"
    print(banner or f"Relais is serving on {address} (panel: {address}/admin/)", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)


# --------------------------------------------------------------------------- commands


def cmd_serve(args: argparse.Namespace) -> None:
    settings = _settings(**_host_port(args))
    _serve(settings, worker=not args.no_worker)


def cmd_worker(args: argparse.Namespace) -> None:
    """The delivery worker alone: run several, on several machines, beside `serve --no-worker`."""
    from relais.app import build_worker, open_engine
    from relais.services import build_services, check_blobs
    from storage.db import session_factory

    settings = _settings()

    async def run() -> None:
        engine = await open_engine(settings)
        hub = build_services(settings, session_factory(engine))
        try:
            await check_blobs(hub.blobs)
        except RelaisError:
            await hub.aclose()
            await engine.dispose()
            raise
        worker = build_worker(hub)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print(f"Relais delivery worker running on {_safe_url(settings.database_url)}", flush=True)
        try:
            await worker.run(stop)
        finally:
            await worker.aclose()
            await hub.aclose()
            await engine.dispose()
        print(
            "Relais delivery worker stopped: deliveries in hand were finished or left to a lease."
        )

    asyncio.run(run())


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    settings = _settings()
    head = _upgrade(settings)
    print(f"Database is at revision {head}: {_safe_url(settings.database_url)}")


def cmd_catalog_sync(args: argparse.Namespace) -> None:
    from hub.applications import sync_catalog
    from storage.db import create_engine, session_factory

    async def run() -> int:
        engine = create_engine(_settings().database_url)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await sync_catalog(session)
        finally:
            await engine.dispose()

    print(f"Catalog synchronised: {asyncio.run(run())} applications.")


def cmd_keys_generate(args: argparse.Namespace) -> None:
    from hub.keyring import generate_key

    # To the terminal only: a key must never reach a log.
    print(generate_key())


def cmd_keys_rotate(args: argparse.Namespace) -> None:
    from hub.rotation import Rotation, rotate_secrets
    from relais.services import build_services
    from storage.db import create_engine, session_factory

    settings = _settings()

    async def run() -> Rotation:
        engine = create_engine(settings.database_url)
        hub = build_services(settings, session_factory(engine))
        try:
            return await rotate_secrets(hub)
        finally:
            await hub.aclose()
            await engine.dispose()

    done = asyncio.run(run())
    print(
        f"Stored secrets re-encrypted with the newest key: {done.resealed} "
        f"({done.current} already were). Keys after the first in RELAIS_ENCRYPTION_KEY may now "
        "be removed."
    )


def _demo_settings(args: argparse.Namespace) -> Settings:
    """Demo mode, on the address and port asked for; links in cards and pages follow that
    address unless RELAIS_BASE_URL says otherwise."""
    settings = _settings(demo=True, **_host_port(args))
    if "base_url" in settings.model_fields_set:
        return settings
    host = "localhost" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return settings.model_copy(update={"base_url": f"http://{host}:{settings.port}"})


_GRAPH_SETTINGS = frozenset(
    {"entra_authority_host", "graph_url", "entra_client_id", "entra_client_secret", "ca_bundle"}
)


def _at_graph_stand_in(settings: Settings, url: str, ca_file: Path) -> Settings | None:
    """The settings with Entra and Graph at the demo's Microsoft stand-in; None when the person
    set any of them (then they go where the person said, and the stand-in is not started)."""
    from pydantic import SecretStr

    from relais.demo.graph import CLIENT_ID, CLIENT_SECRET

    if settings.model_fields_set & _GRAPH_SETTINGS:
        return None
    return settings.model_copy(
        update={
            "entra_authority_host": url,
            "graph_url": f"{url}/v1.0",
            "entra_client_id": CLIENT_ID,
            "entra_client_secret": SecretStr(CLIENT_SECRET),
            # Relais' Entra and Graph clients alone trust the throw-away CA (no process-wide
            # SSL_CERT_FILE): the same explicit setting a test lab would use.
            "ca_bundle": str(ca_file),
        }
    )


def _demo_banner(
    info: DemoInfo, settings: Settings, partner_url: str, graph_url: str, codes: list[str]
) -> str:
    from relais.demo.graph import ACCEPT_AFTER
    from relais.demo.playground import commands

    address = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        f"Relais demo — {info.firm_name}",
        f"  Panel:          {address}/admin/   (sign in as any demo person, no password)",
        f"  Bot endpoint:   {address}/api/messages   (authentication OFF: demo only)",
        f"  Links in cards: {settings.base_url}",
        f"  Database:       {_safe_url(settings.database_url)}",
        f"  Partner stand-in (demo only): {partner_url}   the OCR applications deliver there; "
        'it takes documents with a reference, and refuses a file named with "illisible"',
    ]
    if graph_url:
        lines.append(
            f"  Microsoft stand-in (demo only): {graph_url}   Entra and Graph for the demo "
            f"tenant: consent granted, invitations accepted {ACCEPT_AFTER:.0f} s after they are "
            "sent (check again), Relais installed for guests"
        )
    lines += [f"  Tenant id:      {info.tenant_id}", "  People (Entra object ids):"]
    for person in info.staff + info.contacts[:3]:
        lines.append(f"    {person.object_id}  {person.role:<15} {person.name} <{person.email}>")
    as_staff, as_contact = commands(f"{address}/api/messages")
    lines += [
        "  Try it as in Teams (Microsoft 365 Agents Playground, Node.js; files written here):",
        f"    {as_staff}",
        f"    as a client contact: {as_contact}",
        f"  Or post a Teams message activity to {address}/api/messages from tenant "
        f'{info.tenant_id}, user {info.staff[0].object_id}, text "aide"',
    ]
    if codes:
        lines.append(
            f'  Then try "historique facture", "échecs" or "statut {codes[0]}" '
            '(in English: "history releve", "failures"): a month of documents is there.'
        )
    return "\n".join(lines) + "\n"


def cmd_demo(args: argparse.Namespace) -> None:
    from hub.settings import DEMO_TEAMS_APP_ID
    from relais.demo import seed, seed_activity
    from relais.demo.activity import point_at_partner
    from relais.demo.dataset import APPLICATIONS
    from relais.demo.firm import grant_consent
    from relais.demo.graph import NAME as GRAPH_NAME
    from relais.demo.graph import GraphStandIn, Person
    from relais.demo.partner import DemoPartner, address_of, listening_socket, serving
    from relais.demo.playground import write_playground_files
    from relais.demo.tls import make_certificates
    from relais.services import build_services
    from storage.db import create_engine, session_factory

    settings = _demo_settings(args)
    _upgrade(settings)
    # The stand-ins' ports are chosen now, so their addresses can be stored before serving.
    sock, graph_sock = listening_socket(), listening_socket()
    partner_url, graph_url = address_of(sock), address_of(graph_sock, "https")
    stand_in = DemoPartner((a.api_key_id, a.secret) for a in APPLICATIONS if a.by_api)
    tls = make_certificates(settings.data_dir / "demo-tls")
    at_graph = _at_graph_stand_in(settings, graph_url, tls.ca_file)
    if at_graph is None:
        graph_sock.close()
        graph_url = ""
    settings = at_graph or settings

    async def run() -> tuple[DemoInfo, list[str]]:
        engine = create_engine(settings.database_url, busy_timeout=settings.database_busy_timeout)
        hub = build_services(settings, session_factory(engine))
        try:
            info = await seed(hub.sessions)
            # A month of documents and deliveries, so History and the dashboards show something.
            codes = (
                []
                if args.no_activity
                else (await seed_activity(hub, partner_url=partner_url)).dossiers
            )
            await point_at_partner(hub, partner_url)
            if graph_url:
                await grant_consent(hub.sessions)
            return info, codes
        finally:
            await hub.aclose()
            await engine.dispose()

    info, codes = asyncio.run(run())
    graph = GraphStandIn(
        info.tenant_id,
        [Person(p.object_id, p.name, p.email) for p in info.staff]
        + [Person(p.object_id, p.name, p.email, guest=True) for p in info.contacts],
        state_file=settings.data_dir / "demo-microsoft.json",
    )
    graph.url = graph_url
    write_playground_files(Path.cwd(), info, DEMO_TEAMS_APP_ID)

    async def beside(app: web.Application) -> AsyncIterator[None]:
        async with serving(stand_in, sock):
            if not graph_url:
                yield
                return
            async with serving(
                graph,
                graph_sock,
                ssl_context=tls.server_context(),
                name=GRAPH_NAME,
                plays="Microsoft Entra and Graph",
            ):
                yield

    banner = _demo_banner(info, settings, partner_url, graph_url, codes)
    _serve(settings, banner=banner, beside=beside)


def cmd_import(args: argparse.Namespace) -> None:
    from hub.errors import ImportRejected
    from hub.imports import ImportReport, command_line_actor, firm_for_command_line, import_file
    from relais.services import build_services
    from storage.db import create_engine, session_factory

    try:
        data = Path(args.file).read_bytes()
    except OSError as error:
        sys.stderr.write(f"relais: cannot read {args.file}: {error.strerror}\n")
        raise SystemExit(2) from None
    settings = _settings()

    async def run() -> tuple[str, ImportReport]:
        engine = create_engine(settings.database_url, busy_timeout=settings.database_busy_timeout)
        try:
            hub = build_services(settings, session_factory(engine))
            firm = await firm_for_command_line(hub, args.tenant)
            return firm.name, await import_file(hub, command_line_actor(firm), args.kind, data)
        finally:
            await engine.dispose()

    try:
        firm_name, report = asyncio.run(run())
    except ImportRejected as error:
        lines = [f"relais: {args.file} was not imported, nothing changed: {error}"]
        lines += [f"  line {line}: {reason}" for line, reason in error.problems]
        sys.stderr.write("\n".join(lines) + "\n")
        raise SystemExit(2) from None
    print(
        f"{args.kind.capitalize()} imported into {firm_name}: {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged."
    )


def _read_bounded(path: Path, limit: int) -> bytes:
    """The file's bytes, refused before reading when it is larger than ``limit``."""
    if path.stat().st_size > limit:
        raise ValueError(f"larger than the {limit}-byte limit")
    return path.read_bytes()


def cmd_upload(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from hub.documents import MAX_DOCUMENT_SIZE, receive_document
    from hub.imports import command_line_actor, firm_for_command_line
    from relais.services import build_services
    from storage.db import create_engine, session_factory

    settings = _settings()

    async def run() -> int:
        engine = create_engine(settings.database_url, busy_timeout=settings.database_busy_timeout)
        hub = build_services(settings, session_factory(engine))
        refused = 0
        try:
            firm = await firm_for_command_line(hub, args.tenant)
            actor = replace(command_line_actor(firm), display_name="relais upload")
            for name in args.files:
                path = Path(name)
                try:
                    data = await asyncio.to_thread(_read_bounded, path, MAX_DOCUMENT_SIZE)
                except (OSError, ValueError) as error:
                    print(f"{name}: refused: {getattr(error, 'strerror', None) or error}")
                    refused += 1
                    continue
                try:
                    receipt = await receive_document(
                        hub, actor, args.dossier, args.folder, path.name, data, "cli"
                    )
                except RelaisError as error:
                    print(f"{name}: refused: {error}")
                    refused += 1
                    continue
                place = f"{args.dossier}/{args.folder.strip().strip('/')}"
                if receipt.duplicate:
                    print(
                        f"{name}: identical to version {receipt.number} of {place}/"
                        f"{receipt.name}; nothing stored or sent"
                    )
                else:
                    print(
                        f"{name}: stored as version {receipt.number} of {place}/{receipt.name}, "
                        f"to be sent to {receipt.deliveries} application(s)"
                    )
        finally:
            await hub.aclose()
            await engine.dispose()
        return refused

    if asyncio.run(run()):
        raise SystemExit(1)


def cmd_blobs_migrate(args: argparse.Namespace) -> None:
    """The local folder's files into the store RELAIS_BLOB_URL names (resumable, verified)."""
    from hub.documents import blob_store
    from relais.services import check_blobs
    from storage.blobs import BlobStore
    from storage.blobs.migrate import Migration, copy_blobs

    settings = _settings()
    source = BlobStore(Path(args.source) if args.source else settings.data_dir / "blobs")
    if settings.blob_location.kind == "local":
        raise ConfigurationError(
            "RELAIS_BLOB_URL names no object store to copy into: set it (and "
            "RELAIS_BLOB_CONNECTION_STRING) to the Azure container first"
        )
    if not source.root.is_dir():
        raise ConfigurationError(f"there is no blob folder at {source.root}")

    def progress(report: Migration, digest: str, what: str) -> None:
        if what not in ("copied", "present"):
            print(f"{digest}: NOT COPIED: {what}", flush=True)
        elif report.seen % 100 == 0:
            print(f"{report.seen} blobs: {report.copied} copied, {report.present} already there")

    async def run() -> Migration:
        target = blob_store(settings)
        try:
            await check_blobs(target)
            print(f"Copying {source.describe()} into {target.describe()}", flush=True)
            return await copy_blobs(source, target, progress)
        finally:
            await target.aclose()

    report = asyncio.run(run())
    print(
        f"{report.seen} blobs: {report.copied} copied and verified, {report.present} already "
        f"there, {len(report.failed)} not copied"
    )
    if report.failed:
        raise SystemExit(1)


def cmd_manifest_build(args: argparse.Namespace) -> None:
    from bot.commands import default_commands, menu
    from manifest.build import build_manifest

    path = build_manifest(
        _settings(), Path(args.out), version=args.version, commands=menu(default_commands())
    )
    print(f"Teams app package written: {path}")


# --------------------------------------------------------------------------- parsing


def _host_port(args: argparse.Namespace) -> dict[str, object]:
    return {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relais",
        description="Relais: the Teams bot and admin panel that connect client dossiers to applications.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], None], help: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    for name, handler, text in (
        (
            "serve",
            cmd_serve,
            "Run the bot endpoint, the admin panel, the health check and the delivery worker in "
            "one process.",
        ),
        (
            "demo",
            cmd_demo,
            "Create (or keep) the demo firm on the embedded database, print its ids, and serve.",
        ),
    ):
        sub = add(name, handler, text)
        sub.add_argument("--host", help="address to listen on (default: RELAIS_HOST or 127.0.0.1)")
        sub.add_argument(
            "--port", type=int, help="port to listen on (default: RELAIS_PORT or 3978)"
        )
        if name == "serve":
            sub.add_argument(
                "--no-worker",
                action="store_true",
                help="do not run the delivery worker here (run `relais worker` processes instead)",
            )
        if name == "demo":
            sub.add_argument(
                "--no-activity",
                action="store_true",
                help="no applications, documents or deliveries: the firm, its people, dossiers "
                "and contacts only (what the browser tests arrange their own data on)",
            )
    add(
        "worker",
        cmd_worker,
        "Run the delivery worker alone; start several (on PostgreSQL) to share the work.",
    )

    db = commands.add_parser("db", help="Database maintenance.").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    upgrade = db.add_parser(
        "upgrade", help="Bring the database to the code's migration head, keeping all data."
    )
    upgrade.set_defaults(handler=cmd_db_upgrade)

    catalog = commands.add_parser("catalog", help="The application catalog.").add_subparsers(
        dest="catalog_command", required=True, metavar="ACTION"
    )
    catalog.add_parser("sync", help="Load the shipped catalog into the database.").set_defaults(
        handler=cmd_catalog_sync
    )

    keys = commands.add_parser(
        "keys", help="The encryption key (RELAIS_ENCRYPTION_KEY)."
    ).add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys.add_parser(
        "generate", help="Print a new random key (32 bytes, base64url) for RELAIS_ENCRYPTION_KEY."
    ).set_defaults(handler=cmd_keys_generate)
    keys.add_parser(
        "rotate",
        help="Re-encrypt every stored secret with the first key of RELAIS_ENCRYPTION_KEY (all or "
        "nothing); afterwards the other keys may be removed.",
    ).set_defaults(handler=cmd_keys_rotate)

    imports = add(
        "import",
        cmd_import,
        "Import staff, dossiers or contacts from a CSV file (the panel's templates): the whole file "
        "is checked first and nothing changes unless every line is valid.",
    )
    imports.add_argument(
        "kind", choices=("staff", "dossiers", "contacts"), help="what the file holds"
    )
    imports.add_argument("file", help="the CSV file (UTF-8, ';' or ',' between cells, header row)")
    imports.add_argument(
        "--tenant",
        metavar="TENANT_ID",
        help="the firm's Entra tenant id (needed when several firms share the database)",
    )

    upload = add(
        "upload",
        cmd_upload,
        "Store files in a dossier's folder, as the panel, the API and the bot do (each becomes the "
        "next version of the document of its name, and is sent to the connected applications).",
    )
    upload.add_argument("dossier", metavar="DOSSIER_CODE", help="the firm's dossier code")
    upload.add_argument("folder", metavar="FOLDER_PATH", help="the folder, e.g. Achats/2025")
    upload.add_argument("files", metavar="FILE", nargs="+", help="the files to store")
    upload.add_argument(
        "--tenant",
        metavar="TENANT_ID",
        help="the firm's Entra tenant id (needed when several firms share the database)",
    )

    blobs = commands.add_parser(
        "blobs", help="The document store (RELAIS_BLOB_URL)."
    ).add_subparsers(dest="blobs_command", required=True, metavar="ACTION")
    migrate = blobs.add_parser(
        "migrate",
        help="Copy the local blob folder into the object store RELAIS_BLOB_URL names; what is "
        "already there is skipped (run it again after an interruption), every copy is verified "
        "by its SHA-256.",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        metavar="FOLDER",
        help="the local blob folder (default: RELAIS_DATA_DIR/blobs)",
    )
    migrate.set_defaults(handler=cmd_blobs_migrate)

    manifest = commands.add_parser("manifest", help="The Teams app package.").add_subparsers(
        dest="manifest_command", required=True, metavar="ACTION"
    )
    build = manifest.add_parser("build", help="Write the zip a firm uploads to Teams.")
    build.add_argument(
        "--out", default="relais.zip", help="where to write the zip (default: relais.zip)"
    )
    build.add_argument(
        "--version",
        help="the package version, MAJOR.MINOR.PATCH (default: Relais' version); raise it for every "
        "new upload, or Teams keeps the old package",
    )
    build.set_defaults(handler=cmd_manifest_build)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as error:  # pydantic's ValidationError: a setting has the wrong form
        sys.stderr.write(f"relais: a setting is not valid:\n{error}\n")
        raise SystemExit(2) from None
    _configure_logging(settings.log_level)
    try:
        args.handler(args)
    except RelaisError as error:
        sys.stderr.write(f"relais: {error}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()

"""Build the Teams app package (``relais manifest build --out relais.zip``).

The package is a zip with, at its root, ``manifest.json`` (filled from the settings), the two icons
and ``fr-fr.json``, the French strings (Teams shows them to people whose Teams runs in French;
everyone else gets the English of ``manifest.json``, ``localizationInfo.defaultLanguageTag``).

Manifest schema version: **1.29**, the newest one published (``MicrosoftTeams.schema.json`` at
OfficeDev/microsoft-teams-app-schema a2a2ebc). Its only construct Python's ``re`` cannot read is a
``\\p{L}`` pattern in the Excel custom-functions part, which Relais does not use; the tests validate
the built manifest against it with that one pattern rewritten (``tests/manifest``), and against
nothing older. To step back to 1.21, change ``manifestVersion`` and ``$schema`` in the template.

Everything the manifest needs from the deployment comes from :class:`hub.settings.Settings`:

- ``RELAIS_BOT_APP_ID``: the Azure Bot's Microsoft App ID (a GUID); it is also the Teams app id,
  so a rebuilt package upgrades the app already installed instead of adding a second one;
- ``RELAIS_BASE_URL``: the public https address of this server; its host is the valid domain;
- ``RELAIS_ENTRA_CLIENT_ID``: the Entra app for ``webApplicationInfo`` (the bot id when empty);
  its Application ID URI must be ``api://<host>/<id>`` for Teams single sign-on.

The bot is offered in the personal scope only: invitations, offers and history answers are
addressed to one person, and Teams delivers the files people drop to a bot (``supportsFiles``)
only in personal chats. Team and group-chat scopes would put firm data in shared conversations.

Refusals raise :class:`hub.errors.ConfigurationError` naming the setting to fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hub.errors import ConfigurationError
from hub.settings import PLACEHOLDERS, Settings

TEMPLATE = "manifest.template.json"
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
LANGUAGE_FILES = {"fr-fr": "fr-fr.json"}
DEFAULT_ZIP_NAME = "relais.zip"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Zip entries carry this date, so the same settings always give the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


HERE = Path(__file__).resolve().parent


def _resource_bytes(name: str) -> bytes:
    """A file shipped beside this module (package data: ``manifest = ["*.json", "*.png"]``)."""
    return (HERE / name).read_bytes()


def _guid(value: str, setting: str, what: str) -> str:
    value = value.strip()
    if value.lower() in PLACEHOLDERS:
        raise ConfigurationError(
            f"Cannot build the Teams app package: {setting} still holds a placeholder "
            f"({value!r}). Set {setting} to {what}."
        )
    if not _GUID.match(value):
        raise ConfigurationError(
            f"Cannot build the Teams app package: {setting} must be {what}, a GUID such as "
            f"12345678-abcd-4ef0-9abc-1234567890ab (got {value!r})."
        )
    return value


def _bot_id(settings: Settings) -> str:
    what = "the Microsoft App ID of your Azure Bot registration"
    if not settings.bot_app_id.strip():
        raise ConfigurationError(
            "Cannot build the Teams app package: RELAIS_BOT_APP_ID is empty. A Teams manifest "
            "needs a real Azure Bot app id: register the bot in Azure (Azure Bot resource, "
            "Microsoft Teams channel on) and set RELAIS_BOT_APP_ID to its Microsoft App ID."
        )
    return _guid(settings.bot_app_id, "RELAIS_BOT_APP_ID", what)


def _host(settings: Settings) -> str:
    base_url = settings.base_url
    parts = urlsplit(base_url)
    if parts.scheme.lower() != "https":
        raise ConfigurationError(
            "Cannot build the Teams app package: RELAIS_BASE_URL must be an https:// address "
            f"for Teams (got {base_url!r}). Teams only talks to apps over https: set "
            "RELAIS_BASE_URL to the public https address of this Relais server, e.g. "
            "https://relais.example.fr."
        )
    if not parts.hostname:
        raise ConfigurationError(
            f"Cannot build the Teams app package: RELAIS_BASE_URL has no host name (got "
            f"{base_url!r}). Set it to the public https address of this Relais server."
        )
    return parts.hostname.lower()


def _version(version: str | None) -> str:
    """The explicit version, else the installed package's (``1.2.3.dev4`` → ``1.2.3``)."""
    if version is None:
        try:
            installed = metadata.version("relais")
        except metadata.PackageNotFoundError:
            installed = "1.0.0"
        numbers = re.match(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?", installed)
        if numbers is None:
            return "1.0.0"
        return ".".join(str(int(n or 0)) for n in numbers.groups())
    version = version.strip()
    if not _SEMVER.match(version):
        raise ConfigurationError(
            "Cannot build the Teams app package: the version must be MAJOR.MINOR.PATCH, "
            f"e.g. 1.4.0 (got {version!r}). Raise it at every change so Teams updates the app."
        )
    return version


def _fill(node: Any, values: Mapping[str, str]) -> Any:
    """Replace every ``{{name}}`` in the strings of a JSON tree."""
    if isinstance(node, dict):
        return {key: _fill(item, values) for key, item in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, str):

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"{TEMPLATE} uses an unknown placeholder {{{{{name}}}}}")
            return values[name]

        return _PLACEHOLDER.sub(one, node)
    return node


def leftover_placeholders(node: Any) -> list[str]:
    """Every ``{{…}}`` (or a stray ``{{`` / ``}}``) left in the keys and strings of a JSON tree."""
    if isinstance(node, dict):
        return [hit for key, item in node.items() for hit in leftover_placeholders([key, item])]
    if isinstance(node, list):
        return [hit for item in node for hit in leftover_placeholders(item)]
    if isinstance(node, str):
        return re.findall(r"\{\{[^}]*\}\}|\{\{|\}\}", node)
    return []


# One command of the bot's menu: language ("en", "fr") → (what to type, what it does).
MenuCommand = Mapping[str, tuple[str, str]]
_MENU_KEY = "bots[0].commandLists[0].commands[{index}].{field}"


def _menu(
    manifest: dict[str, Any], french: dict[str, Any], commands: Sequence[MenuCommand]
) -> None:
    """Replace the template's menu with the bot's own command table, in English and French."""
    manifest["bots"][0]["commandLists"][0]["commands"] = [
        {"title": c["en"][0][:32], "description": c["en"][1][:128]} for c in commands
    ]
    for key in [k for k in french if k.startswith("bots[0].commandLists[0].")]:
        del french[key]
    for index, command in enumerate(commands):
        title, description = command.get("fr", command["en"])
        french[_MENU_KEY.format(index=index, field="title")] = title[:32]
        french[_MENU_KEY.format(index=index, field="description")] = description[:128]


def render_manifest(settings: Settings, *, version: str | None = None) -> dict[str, Any]:
    """The ``manifest.json`` content for these settings (raises ConfigurationError)."""
    bot_id = _bot_id(settings)
    host = _host(settings)
    aad_app_id = (
        _guid(
            settings.entra_client_id,
            "RELAIS_ENTRA_CLIENT_ID",
            "the application (client) ID of your Entra app registration",
        )
        if settings.entra_client_id.strip()
        else bot_id
    )
    values = {
        "bot_id": bot_id,
        "aad_app_id": aad_app_id,
        "base_url": settings.base_url,
        "host": host,
        "version": _version(version),
    }
    template = json.loads(_resource_bytes(TEMPLATE))
    manifest: dict[str, Any] = _fill(template, values)
    leftovers = leftover_placeholders(manifest)
    if leftovers:  # a template bug, not a setting: fail before anything is written
        raise RuntimeError(f"{TEMPLATE} left placeholders in the manifest: {leftovers}")
    return manifest


def package_files(
    settings: Settings, *, version: str | None = None, commands: Sequence[MenuCommand] | None = None
) -> dict[str, bytes]:
    """Name → bytes of every file of the package, in the order they are zipped.

    ``commands`` (the bot's command table, given by the CLI) replaces the template's menu, so the
    menu Teams shows never offers a command the bot does not know.
    """
    manifest = render_manifest(settings, version=version)
    french: dict[str, Any] = json.loads(_resource_bytes(LANGUAGE_FILES["fr-fr"]))
    if commands:
        _menu(manifest, french, commands)
    files = {
        "manifest.json": (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode(),
        COLOR_ICON: _resource_bytes(COLOR_ICON),
        OUTLINE_ICON: _resource_bytes(OUTLINE_ICON),
    }
    files[LANGUAGE_FILES["fr-fr"]] = (
        json.dumps(french, ensure_ascii=False, indent=2) + "\n"
    ).encode()
    return files


def build_manifest(
    settings: Settings,
    out: Path,
    *,
    version: str | None = None,
    commands: Sequence[MenuCommand] | None = None,
) -> Path:
    """Write the Teams app package for ``settings`` to ``out`` and return its path.

    ``out`` may be an existing folder (the package is then ``relais.zip`` inside it); missing
    parent folders are created. The zip is written next to its destination and moved into place
    at the end, so an existing package is never left half-written. ``version`` (MAJOR.MINOR.PATCH)
    defaults to the installed Relais version; raise it whenever the package changes, or Teams keeps
    the old one.
    """
    files = package_files(
        settings, version=version, commands=commands
    )  # every refusal happens before any write
    out = Path(out)
    if out.is_dir():
        out = out / DEFAULT_ZIP_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in files.items():
                    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return out

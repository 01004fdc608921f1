"""The Teams app package: valid against Microsoft's schemas, filled from the settings, with icons that
follow Teams' rules, and clear refusals for settings Teams cannot work with."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image, ImageChops

from hub.errors import ConfigurationError
from hub.settings import Settings
from manifest.build import build_manifest, leftover_placeholders, render_manifest
from tests.conftest import require

BOT_ID = "3f2b8c1e-5d4a-4b6e-9c7f-0a1b2c3d4e5f"
ENTRA_ID = "9a8b7c6d-1e2f-4a3b-8c5d-6e7f8a9b0c1d"
HOST = "relais.example.fr"
SCHEMAS = Path(
    os.environ.get("RELAIS_SCHEMAS_DIR", Path(__file__).resolve().parents[1] / "schemas")
)
MANIFEST_VERSION = "1.29"
FILES = ["manifest.json", "color.png", "outline.png", "fr-fr.json"]


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_app_id": BOT_ID,
        "base_url": f"https://{HOST}",
        "entra_client_id": ENTRA_ID,
        "demo": False,
        "encryption_key": "k",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def package(tmp_path: Path) -> dict[str, bytes]:
    path = build_manifest(make_settings(), tmp_path / "relais.zip", version="1.2.3")
    assert path == tmp_path / "relais.zip"
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def manifest(package: dict[str, bytes]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(package["manifest.json"])
    return data


# --------------------------------------------------------------------------- schemas


def _python_patterns(node: Any) -> Any:
    """Rewrite the one ``\\p{L}`` pattern of the 1.29 schema (Excel custom-function names, unused
    by Relais) into Python's ``re``: ``[^\\W\\d_]`` is "a letter". Anything else with ``\\p{`` fails
    loudly, so a new schema needing another rewrite is noticed."""
    if isinstance(node, dict):
        return {key: _python_patterns(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_python_patterns(value) for value in node]
    if isinstance(node, str) and "\\p{" in node:
        rewritten = node.replace("[\\p{L}0-9._]", "(?:[^\\W\\d_]|[0-9._])").replace(
            "[\\p{L}]", "[^\\W\\d_]"
        )
        assert "\\p{" not in rewritten, f"unhandled Unicode class in schema pattern {node!r}"
        return rewritten
    return node


def load_schema(name: str) -> dict[str, Any]:
    path = SCHEMAS / name
    require(path.is_file(), f"official schema {path} is missing (see tests/schemas/SOURCES.md)")
    schema: dict[str, Any] = _python_patterns(json.loads(path.read_text(encoding="utf-8")))
    jsonschema.Draft4Validator.check_schema(schema)
    return schema


def test_package_holds_exactly_the_four_files_at_its_root(tmp_path: Path) -> None:
    path = build_manifest(make_settings(), tmp_path / "relais.zip", version="1.2.3")
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == FILES
    assert not [p for p in tmp_path.iterdir() if p.name != "relais.zip"], "temporary file left"


def test_manifest_is_valid_against_the_official_schema(manifest: dict[str, Any]) -> None:
    schema = load_schema(f"teams-manifest-{MANIFEST_VERSION}.schema.json")
    assert manifest["manifestVersion"] == MANIFEST_VERSION
    assert f"/v{MANIFEST_VERSION}/" in manifest["$schema"]
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(manifest), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_manifest_is_filled_from_the_settings(manifest: dict[str, Any]) -> None:
    assert manifest["id"] == BOT_ID
    assert manifest["version"] == "1.2.3"
    (bot,) = manifest["bots"]
    assert bot["botId"] == BOT_ID
    assert bot["scopes"] == ["personal"]
    assert bot["supportsFiles"] is True
    assert manifest["validDomains"] == [HOST]
    assert manifest["webApplicationInfo"] == {
        "id": ENTRA_ID,
        "resource": f"api://{HOST}/{ENTRA_ID}",
    }
    developer = manifest["developer"]
    assert developer["websiteUrl"] == f"https://{HOST}"
    assert developer["privacyUrl"].startswith(f"https://{HOST}/")
    assert developer["termsOfUseUrl"].startswith(f"https://{HOST}/")
    assert manifest["name"]["short"] == "Relais"
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    titles = [c["title"] for c in bot["commandLists"][0]["commands"]]
    assert titles == ["help", "invite", "propose", "history", "failures", "status"]


def test_web_application_info_falls_back_to_the_bot_id() -> None:
    manifest = render_manifest(make_settings(entra_client_id=""), version="1.0.0")
    assert manifest["webApplicationInfo"] == {"id": BOT_ID, "resource": f"api://{HOST}/{BOT_ID}"}


def test_the_host_alone_is_the_valid_domain() -> None:
    settings = make_settings(base_url="https://Relais.Cabinet-Durand.fr:8443/relais/")
    manifest = render_manifest(settings, version="1.0.0")
    assert manifest["validDomains"] == ["relais.cabinet-durand.fr"]
    assert manifest["developer"]["websiteUrl"] == "https://Relais.Cabinet-Durand.fr:8443/relais"


def test_no_placeholder_is_left_in_the_package(package: dict[str, bytes]) -> None:
    for name in ("manifest.json", "fr-fr.json"):
        text = package[name].decode("utf-8")
        assert leftover_placeholders(json.loads(text)) == [], name
        assert not re.search(r"\{\{|\}\}|\$\{", text), name
    template = (
        Path(__file__).resolve().parents[2] / "manifest" / "manifest.template.json"
    ).read_text()
    assert "{{bot_id}}" in template, "the template is where the placeholders live"


def test_version_defaults_to_the_package_version(tmp_path: Path) -> None:
    manifest = render_manifest(make_settings())
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])


# --------------------------------------------------------------------------- French strings


def test_manifest_declares_the_french_file(manifest: dict[str, Any]) -> None:
    assert manifest["localizationInfo"] == {
        "defaultLanguageTag": "en-us",
        "additionalLanguages": [{"languageTag": "fr-fr", "file": "fr-fr.json"}],
    }


def _get(manifest: dict[str, Any], key: str) -> Any:
    """Follow a localization key (``bots[0].commandLists[0].commands[1].title``) into the manifest."""
    node: Any = manifest
    for part in key.split("."):
        match = re.fullmatch(r"([A-Za-z]+)((?:\[\d+\])*)", part)
        assert match, key
        node = node[match.group(1)]
        for index in re.findall(r"\[(\d+)\]", match.group(2)):
            node = node[int(index)]
    return node


def test_french_file_translates_every_string_of_the_manifest(
    package: dict[str, bytes], manifest: dict[str, Any]
) -> None:
    french = json.loads(package["fr-fr.json"].decode("utf-8"))
    assert french["$schema"].endswith(
        f"/v{MANIFEST_VERSION}/MicrosoftTeams.Localization.schema.json"
    )
    strings = {key: value for key, value in french.items() if key != "$schema"}
    commands = manifest["bots"][0]["commandLists"][0]["commands"]
    expected = {"name.short", "name.full", "description.short", "description.full"} | {
        f"bots[0].commandLists[0].commands[{i}].{field}"
        for i in range(len(commands))
        for field in ("title", "description")
    }
    assert set(strings) == expected
    for key, value in strings.items():
        assert isinstance(value, str) and value.strip(), key
        # Teams rejects a translation of a string the manifest does not have.
        assert isinstance(_get(manifest, key), str), key
    assert french["name.short"] == "Relais"
    french_titles = [strings[f"bots[0].commandLists[0].commands[{i}].title"] for i in range(6)]
    assert french_titles == ["aide", "inviter", "proposer", "historique", "échecs", "statut"]


def test_french_file_follows_the_localization_schema(package: dict[str, bytes]) -> None:
    """Teams' own limits (MicrosoftTeams.Localization.schema.json 1.29), checked always; and the
    official file itself when it sits in the schemas folder."""
    french = json.loads(package["fr-fr.json"].decode("utf-8"))
    limits = {"name.short": 30, "name.full": 100, "description.short": 80, "description.full": 4000}
    for key, limit in limits.items():
        assert len(french[key]) <= limit, key
    command = re.compile(
        r"^bots\[0\]\.commandLists\[[0-2]\]\.commands\[([0-9]|1[0-1])\]\.(title|description)$"
    )
    for key, value in french.items():
        if key in limits or key == "$schema":
            continue
        match = command.match(key)
        assert match, f"{key} is not a key Teams' localization schema allows"
        assert len(value) <= (128 if match.group(2) == "title" else 4000), key
    official = SCHEMAS / f"teams-localization-{MANIFEST_VERSION}.schema.json"
    if official.is_file():
        schema = json.loads(official.read_text(encoding="utf-8"))
        jsonschema.Draft4Validator.check_schema(schema)
        jsonschema.Draft4Validator(schema).validate(french)


def test_english_strings_fit_teams_limits(manifest: dict[str, Any]) -> None:
    assert len(manifest["name"]["short"]) <= 30
    assert len(manifest["description"]["short"]) <= 80


# --------------------------------------------------------------------------- icons


def test_color_icon_is_192_full_colour(package: dict[str, bytes]) -> None:
    icon = Image.open(io.BytesIO(package["color.png"]))
    assert icon.format == "PNG"
    assert icon.size == (192, 192)
    colours = icon.convert("RGB").getcolors(maxcolors=192 * 192)
    assert colours is not None and len(colours) > 3, "a colour icon, not a flat one"


def test_outline_icon_is_32_white_on_transparent(package: dict[str, bytes]) -> None:
    icon = Image.open(io.BytesIO(package["outline.png"]))
    assert icon.format == "PNG"
    assert icon.size == (32, 32)
    assert icon.mode == "RGBA"
    data = icon.tobytes()
    pixels = [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]
    assert not [p for p in pixels if p[3] and p[:3] != (255, 255, 255)], "only white ink"
    transparent = sum(1 for p in pixels if p[3] == 0)
    opaque = sum(1 for p in pixels if p[3] == 255)
    assert transparent > 32 * 32 // 3, "a transparent background"
    assert opaque > 32 * 4, "a visible mark"


def test_icons_in_the_package_are_the_committed_ones(package: dict[str, bytes]) -> None:
    folder = Path(__file__).resolve().parents[2] / "manifest"
    assert package["color.png"] == (folder / "color.png").read_bytes()
    assert package["outline.png"] == (folder / "outline.png").read_bytes()


def test_icon_script_reproduces_the_committed_icons(tmp_path: Path) -> None:
    from manifest.make_icons import write_icons

    folder = Path(__file__).resolve().parents[2] / "manifest"
    color, outline = write_icons(tmp_path)
    for fresh, committed in ((color, folder / "color.png"), (outline, folder / "outline.png")):
        with Image.open(fresh) as a, Image.open(committed) as b:
            assert a.size == b.size and a.mode == b.mode
            # Pillow's rasteriser may move an edge pixel between versions: compare, don't hash.
            diff = ImageChops.difference(a, b).tobytes()
            assert sum(diff) / len(diff) < 1.0, (
                f"{committed.name} is stale: run python -m manifest.make_icons"
            )


# --------------------------------------------------------------------------- refusals


def test_refuses_an_empty_bot_id(tmp_path: Path) -> None:
    out = tmp_path / "relais.zip"
    with pytest.raises(ConfigurationError) as refused:
        build_manifest(make_settings(bot_app_id=""), out)
    message = str(refused.value)
    assert "RELAIS_BOT_APP_ID is empty" in message
    assert "Azure Bot" in message
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("bot_id", ["changeme", "my-bot", "3f2b8c1e5d4a4b6e9c7f0a1b2c3d4e5f0"])
def test_refuses_a_bot_id_that_is_not_a_guid(tmp_path: Path, bot_id: str) -> None:
    with pytest.raises(ConfigurationError, match="RELAIS_BOT_APP_ID"):
        build_manifest(make_settings(bot_app_id=bot_id), tmp_path / "relais.zip")


def test_refuses_an_entra_client_id_that_is_not_a_guid(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="RELAIS_ENTRA_CLIENT_ID must be"):
        build_manifest(make_settings(entra_client_id="relais-app"), tmp_path / "relais.zip")


@pytest.mark.parametrize(
    "base_url", ["http://relais.example.fr", "http://localhost:3978", "relais.example.fr"]
)
def test_refuses_a_base_url_that_is_not_https(tmp_path: Path, base_url: str) -> None:
    out = tmp_path / "relais.zip"
    with pytest.raises(ConfigurationError) as refused:
        build_manifest(make_settings(base_url=base_url), out)
    message = str(refused.value)
    assert "RELAIS_BASE_URL must be an https:// address" in message
    assert repr(base_url) in message
    assert not out.exists()


def test_refuses_a_version_teams_cannot_compare(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"MAJOR\.MINOR\.PATCH"):
        build_manifest(make_settings(), tmp_path / "relais.zip", version="1.2")


# --------------------------------------------------------------------------- writing


def test_a_refusal_leaves_an_existing_package_untouched(tmp_path: Path) -> None:
    out = build_manifest(make_settings(), tmp_path / "relais.zip", version="1.0.0")
    before = out.read_bytes()
    with pytest.raises(ConfigurationError):
        build_manifest(make_settings(base_url="http://x"), out)
    assert out.read_bytes() == before


def test_rebuild_replaces_the_package_and_is_reproducible(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "relais.zip"
    first = build_manifest(make_settings(), out, version="1.0.0").read_bytes()
    assert build_manifest(make_settings(), out, version="1.0.0").read_bytes() == first
    changed = build_manifest(make_settings(), out, version="1.0.1").read_bytes()
    assert changed != first
    assert sorted(p.name for p in out.parent.iterdir()) == ["relais.zip"]


def test_a_folder_as_out_gets_relais_zip_inside(tmp_path: Path) -> None:
    assert build_manifest(make_settings(), tmp_path, version="1.0.0") == tmp_path / "relais.zip"

"""Rotating the encryption key: several keys open, the first seals, `relais keys rotate` moves
every stored secret to the newest key (and off the derivation of versions before HKDF)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from hub.errors import ConfigurationError
from hub.services import Hub
from hub.settings import Settings
from relais.cli import main
from relais.services import build_services
from storage.db import Sessions
from storage.models import ApplicationDraft, CatalogApp, FirmApplication
from tests import scenes
from tests.scenes import Office

KEY_A = "9JWlAQI0io8J_uqhgjX834oNQkzlUikSfOxpvfqcmxQ="
KEY_B = "6S4NViF5SuhAkEGEmtf3Rv__WORpHaqrzuUpBgRIZ6c="
KEY_C = "mbMUM5reIoOXJmJNDJYlESleL19myOExtYks4aonNTg="
SECRET = "partner-secret-0b1c"


def with_keys(settings: Settings, sessions: Sessions, keys: str) -> Hub:
    """The hub of a production deployment whose RELAIS_ENCRYPTION_KEY is ``keys``."""
    configured = settings.model_copy(update={"demo": False, "encryption_key": SecretStr(keys)})
    return build_services(configured, sessions)


async def relais(
    settings: Settings, keys: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str
) -> None:
    """The `relais` command, as run at a terminal (in a thread: it runs its own event loop)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("RELAIS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RELAIS_ENCRYPTION_KEY", keys)
    monkeypatch.delenv("RELAIS_DEMO", raising=False)
    await asyncio.to_thread(main, list(args))


async def stored(sessions: Sessions, app_id: int) -> bytes:
    async with sessions() as session:
        token = await session.scalar(
            select(FirmApplication.secret_encrypted).where(FirmApplication.id == app_id)
        )
    assert token is not None
    return token


async def draft_with_secret(hub: Hub, office: Office, secret: str) -> int:
    """An add-application wizard left half-way, its secret sealed by ``hub``'s vault."""
    async with hub.sessions() as session, session.begin():
        app_id = await session.scalar(select(CatalogApp.id).where(CatalogApp.slug == "juridique"))
        assert app_id is not None
        draft = ApplicationDraft(
            firm_id=office.firm.id,
            staff_user_id=office.admin.id,
            catalog_app_id=app_id,
            secret_encrypted=hub.vault.seal(secret),
        )
        session.add(draft)
        await session.flush()
        return draft.id


async def test_a_secret_sealed_under_the_old_key_is_rotated_and_the_old_key_can_go(
    settings: Settings,
    sessions: Sessions,
    office: Office,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    under_a = with_keys(settings, sessions, KEY_A)
    app = await scenes.application(under_a, office.firm.id, "ocr-achats", secret=SECRET)
    draft_id = await draft_with_secret(under_a, office, "draft-secret")
    sealed_by_a = await stored(sessions, app.id)

    rotating = with_keys(settings, sessions, f"{KEY_B},{KEY_A}")
    assert rotating.vault.open(sealed_by_a) == SECRET
    # What is entered during the rotation is sealed with the newest key already.
    assert with_keys(settings, sessions, KEY_B).vault.open(rotating.vault.seal("x")) == "x"

    await relais(settings, f"{KEY_B},{KEY_A}", monkeypatch, tmp_path, "keys", "rotate")
    assert "re-encrypted with the newest key: 2 (0 already were)" in capsys.readouterr().out

    only_b = with_keys(settings, sessions, KEY_B)
    assert only_b.vault.open(await stored(sessions, app.id)) == SECRET
    async with sessions() as session:
        draft = await session.get(ApplicationDraft, draft_id)
    assert draft is not None and draft.secret_encrypted is not None
    assert only_b.vault.open(draft.secret_encrypted) == "draft-secret"
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        with_keys(settings, sessions, KEY_A).vault.open(await stored(sessions, app.id))

    # Again: nothing left to do, nothing rewritten.
    rotated = await stored(sessions, app.id)
    await relais(settings, f"{KEY_B},{KEY_A}", monkeypatch, tmp_path, "keys", "rotate")
    assert "re-encrypted with the newest key: 0 (2 already were)" in capsys.readouterr().out
    assert await stored(sessions, app.id) == rotated


async def test_rotation_refuses_and_changes_nothing_when_a_secret_opens_with_no_key(
    settings: Settings,
    sessions: Sessions,
    office: Office,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lost = await scenes.application(
        with_keys(settings, sessions, KEY_A), office.firm.id, "ocr-achats", secret=SECRET
    )
    movable = await scenes.application(
        with_keys(settings, sessions, KEY_C), office.firm.id, "ocr-ventes", secret="other"
    )
    before = {
        lost.id: await stored(sessions, lost.id),
        movable.id: await stored(sessions, movable.id),
    }

    with pytest.raises(SystemExit) as exit:
        await relais(settings, f"{KEY_B},{KEY_C}", monkeypatch, tmp_path, "keys", "rotate")
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert f"application 'OCR Factures — Achats' of 'Cabinet Martin' (id {lost.id})" in err
    assert "Ventes" not in err
    assert "Nothing was changed" in err and "Traceback" not in err
    assert {key: await stored(sessions, key) for key in before} == before


async def sealed_before_hkdf(hub: Hub, office: Office, slug: str, passphrase: str) -> int:
    """An application whose secret a version before HKDF stored: Fernet under an HMAC-SHA256 of
    the passphrase."""
    app = await scenes.application(hub, office.firm.id, slug)
    old_key = hmac.new(passphrase.encode(), b"relais:secrets", hashlib.sha256).digest()
    async with hub.sessions() as session, session.begin():
        row = await session.get(FirmApplication, app.id)
        assert row is not None
        row.secret_encrypted = Fernet(base64.urlsafe_b64encode(old_key)).encrypt(SECRET.encode())
    return app.id


async def test_secrets_sealed_before_hkdf_stay_readable_and_are_rotated(
    settings: Settings,
    sessions: Sessions,
    office: Office,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = with_keys(settings, sessions, KEY_A)
    plain = await sealed_before_hkdf(hub, office, "ocr-achats", "durand2024")
    # A passphrase with a comma in it was one key then.
    comma = await sealed_before_hkdf(hub, office, "ocr-ventes", "cabinet, durand 2024")

    # After the upgrade, with the setting unchanged, the worker still opens them...
    for app_id, passphrase in ((plain, "durand2024"), (comma, "cabinet, durand 2024")):
        upgraded = with_keys(settings, sessions, passphrase)
        assert upgraded.vault.open(await stored(sessions, app_id)) == SECRET
    # ...and with a strong key put first, `relais keys rotate` moves them to the new key.
    keys = f"{KEY_B},durand2024,cabinet, durand 2024"
    await relais(settings, keys, monkeypatch, tmp_path, "keys", "rotate")
    assert "re-encrypted with the newest key: 2 (0 already were)" in capsys.readouterr().out
    only_b = with_keys(settings, sessions, KEY_B)
    assert only_b.vault.open(await stored(sessions, plain)) == SECRET
    assert only_b.vault.open(await stored(sessions, comma)) == SECRET


async def test_rotation_refuses_a_weak_newest_key(
    settings: Settings,
    sessions: Sessions,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit:
        await relais(settings, f"durand2024,{KEY_A}", monkeypatch, tmp_path, "keys", "rotate")
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "newest key" in err and "too weak" in err and "relais keys generate" in err
    assert "durand2024" not in err

"""The settings refuse, at start, what would fail or be unsafe in production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import pytest

from hub.errors import ConfigurationError
from hub.settings import Settings
from relais.cli import main

# A key as `relais keys generate` prints them (32 random bytes, base64url).
STRONG_KEY = "9JWlAQI0io8J_uqhgjX834oNQkzlUikSfOxpvfqcmxQ="

PRODUCTION = {
    "bot_app_id": "3f2a8c1e-0000-4000-8000-00000000b07",
    "bot_app_password": "a-real-secret",
    "entra_client_id": "5e1c0d2f-0000-4000-8000-0000000e1a",
    "entra_client_secret": "another-real-secret",
    "encryption_key": STRONG_KEY,
    "base_url": "https://relais.cabinet-durand.fr/",
}


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_complete_production_settings_start() -> None:
    settings = make(**PRODUCTION)
    settings.check_for_serving()
    assert settings.base_url == "https://relais.cabinet-durand.fr"
    assert settings.bot_auth_enabled and settings.secure_cookies


def test_production_without_bot_app_id_is_refused_with_every_problem_listed() -> None:
    values = {
        **PRODUCTION,
        "bot_app_id": "",
        "entra_client_secret": "changeme",
        "base_url": "http://x",
    }
    with pytest.raises(ConfigurationError) as refused:
        make(**values).check_for_serving()
    message = str(refused.value)
    assert "RELAIS_BOT_APP_ID is missing" in message
    assert "RELAIS_ENTRA_CLIENT_SECRET still holds a placeholder" in message
    assert "RELAIS_BASE_URL must be https://" in message
    assert "RELAIS_DEMO=true" in message


def test_demo_mode_starts_without_bot_app_id_and_warns_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make(demo=True)
    settings.check_for_serving()
    assert not settings.bot_auth_enabled
    assert "authentication is OFF" in caplog.text


def test_single_tenant_needs_its_tenant() -> None:
    with pytest.raises(ConfigurationError, match="RELAIS_BOT_APP_TENANT_ID"):
        make(**PRODUCTION, bot_app_type="SingleTenant").check_for_serving()


def test_pasted_database_urls_get_the_async_driver() -> None:
    assert (
        make(database_url="postgresql://u:p@db/relais").database_url
        == "postgresql+asyncpg://u:p@db/relais"
    )
    assert make(database_url="postgres://u@db/r").database_url == "postgresql+asyncpg://u@db/r"
    assert make(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"


def test_settings_come_from_relais_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_PORT", "8080")
    monkeypatch.setenv("RELAIS_DEMO", "true")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.port == 8080 and settings.demo


def test_encryption_key_is_required_outside_demo() -> None:
    with pytest.raises(ConfigurationError, match="RELAIS_ENCRYPTION_KEY"):
        make().fernet_key()
    with pytest.raises(ConfigurationError, match="RELAIS_ENCRYPTION_KEY is missing"):
        make(**{**PRODUCTION, "encryption_key": ""}).check_for_serving()
    assert make(demo=True).fernet_key() != make(encryption_key="other").fernet_key()
    assert make(demo=True).fernet_key("secrets") != make(demo=True).fernet_key("session")


@pytest.mark.parametrize(
    "weak",
    [
        "a",
        "1234",
        "durand2024",
        "a long passphrase for secrets at rest",
        base64.urlsafe_b64encode(bytes(32)).decode(),  # 32 bytes, all the same
        base64.urlsafe_b64encode(b"abcd" * 8).decode(),  # a short pattern repeated
        base64.urlsafe_b64encode(bytes(range(100, 116))).decode(),  # 16 bytes: too short
    ],
)
def test_production_refuses_a_guessable_encryption_key_and_says_how_to_make_one(weak: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        make(**{**PRODUCTION, "encryption_key": weak, "base_url": "http://x"}).check_for_serving()
    message = str(refused.value)
    assert "RELAIS_ENCRYPTION_KEY is too weak" in message
    assert "relais keys generate" in message
    assert "RELAIS_BASE_URL must be https://" in message  # listed with the other problems
    assert len(weak) < 5 or weak not in message  # never quoted


def test_every_key_of_a_rotation_must_be_strong_to_serve() -> None:
    with pytest.raises(ConfigurationError, match=r"\(key 2 of 2\) is too weak"):
        make(**{**PRODUCTION, "encryption_key": f"{STRONG_KEY},durand2024"}).check_for_serving()


def test_generated_keys_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    main(["keys", "generate"])
    first = capsys.readouterr().out.strip()
    main(["keys", "generate"])
    second = capsys.readouterr().out.strip()
    assert first != second
    assert len(base64.urlsafe_b64decode(first)) == 32
    make(**{**PRODUCTION, "encryption_key": first}).check_for_serving()
    make(**{**PRODUCTION, "encryption_key": f"{second}, {first}"}).check_for_serving()
    # `openssl rand -base64 32` writes standard base64 (+ and /): accepted too.
    standard = base64.b64encode(b"\xfb\xff" + os.urandom(30)).decode()
    assert "+" in standard or "/" in standard
    make(**{**PRODUCTION, "encryption_key": standard}).check_for_serving()


def _hkdf_sha256(material: bytes, info: bytes) -> bytes:
    """RFC 5869 written out, to check the settings against (no salt: 32 zero bytes)."""
    prk = hmac.new(bytes(32), material, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_cookie_and_secrets_keys_come_from_hkdf_with_their_own_labels() -> None:
    settings = make(**PRODUCTION)
    material = base64.urlsafe_b64decode(STRONG_KEY)
    secrets_key = settings.fernet_key("secrets")
    session_key = settings.fernet_key("session")
    assert secrets_key != session_key
    assert base64.urlsafe_b64decode(secrets_key) == _hkdf_sha256(material, b"relais secrets v1")
    assert base64.urlsafe_b64decode(session_key) == _hkdf_sha256(material, b"relais session v1")
    # Not the old single HMAC of the text any more.
    legacy = hmac.new(STRONG_KEY.encode(), b"relais:secrets", hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(secrets_key) != legacy


def test_several_keys_the_first_one_encrypts() -> None:
    other = "6S4NViF5SuhAkEGEmtf3Rv__WORpHaqrzuUpBgRIZ6c="
    rotating = make(**{**PRODUCTION, "encryption_key": f"{other} , {STRONG_KEY},"})
    assert rotating.fernet_keys("session") == [
        make(encryption_key=other).fernet_key("session"),
        make(encryption_key=STRONG_KEY).fernet_key("session"),
    ]
    assert rotating.fernet_key() == make(encryption_key=other).fernet_key()


def test_secrets_are_not_shown_by_repr() -> None:
    shown = repr(make(**PRODUCTION))
    assert "a-real-secret" not in shown and "another-real-secret" not in shown
    assert STRONG_KEY not in shown


def test_the_retry_horizon_is_a_day_by_default_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert make().retry_horizon_seconds == 86400
    monkeypatch.setenv("RELAIS_RETRY_HORIZON_SECONDS", "7200")
    assert make().retry_horizon_seconds == 7200


def test_a_retry_horizon_under_a_minute_is_refused_by_name() -> None:
    with pytest.raises(ValueError) as refused:
        make(retry_horizon_seconds=30)
    assert "retry_horizon_seconds" in str(refused.value)
    assert "greater than or equal to 60" in str(refused.value)

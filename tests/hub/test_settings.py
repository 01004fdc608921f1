"""The settings refuse, at start, what would fail or be unsafe in production."""

from __future__ import annotations

import pytest

from hub.errors import ConfigurationError
from hub.settings import Settings

PRODUCTION = {
    "bot_app_id": "3f2a8c1e-0000-4000-8000-00000000b07",
    "bot_app_password": "a-real-secret",
    "entra_client_id": "5e1c0d2f-0000-4000-8000-0000000e1a",
    "entra_client_secret": "another-real-secret",
    "encryption_key": "a long passphrase for secrets at rest",
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
    assert make(demo=True).fernet_key() != make(encryption_key="other").fernet_key()
    assert make(demo=True).fernet_key("secrets") != make(demo=True).fernet_key("session")


def test_secrets_are_not_shown_by_repr() -> None:
    shown = repr(make(**PRODUCTION))
    assert "a-real-secret" not in shown and "another-real-secret" not in shown


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

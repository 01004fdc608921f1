"""The one typed configuration object, read from ``RELAIS_*`` variables and an optional ``.env``.

Every setting, its default and its meaning is listed in the README ("Configuration"). The object is
validated once, at start (:meth:`Settings.check_for_serving`): production refuses placeholders and
missing secrets instead of failing later in the middle of a conversation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigurationError

log = logging.getLogger("relais.settings")

PLACEHOLDERS = {"changeme", "change-me", "todo", "xxx", "your-app-id", "placeholder", "secret"}
DEMO_ENCRYPTION_KEY = "demo-only-key-not-for-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RELAIS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # -- where and how it runs
    database_url: str = "sqlite+aiosqlite:///relais.db"
    base_url: str = "http://localhost:3978"
    host: str = "127.0.0.1"
    port: int = 3978
    demo: bool = False
    data_dir: Path = Path("data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # -- Azure Bot registration (Bot Framework)
    bot_app_id: str = ""
    bot_app_password: SecretStr = SecretStr("")
    bot_app_type: Literal["MultiTenant", "SingleTenant"] = "MultiTenant"
    bot_app_tenant_id: str = ""
    # Overrides for sovereign clouds and for the local fakes the tests start.
    bot_openid_metadata_url: str = ""
    bot_login_url: str = ""
    bot_oauth_scope: str = ""

    # -- Entra app used by the panel's sign-in (OIDC) and for Graph (client credentials)
    entra_client_id: str = ""
    entra_client_secret: SecretStr = SecretStr("")
    entra_authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"

    # -- outgoing mail
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_from: str = "relais@localhost"

    # -- secrets at rest and the panel's session cookie
    encryption_key: SecretStr = SecretStr("")
    session_max_age: int = Field(default=8 * 3600, ge=300)

    @field_validator("base_url", "entra_authority_host", "graph_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the URLs people paste (``postgresql://``) and give them the async driver."""
        value = value.strip()
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if value.startswith(plain):
                return driver + value[len(plain) :]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def bot_auth_enabled(self) -> bool:
        return bool(self.bot_app_id)

    @property
    def secure_cookies(self) -> bool:
        return not self.demo

    def fernet_key(self, purpose: Literal["secrets", "session"] = "secrets") -> bytes:
        """A Fernet key derived from ``encryption_key``, a different one for each purpose.

        Any passphrase works (people need not generate a base64 key by hand). Separate keys mean
        that a session cookie can never be replayed as a stored secret, or the reverse.
        """
        raw = self.encryption_key.get_secret_value() or (DEMO_ENCRYPTION_KEY if self.demo else "")
        if not raw:
            raise ConfigurationError("RELAIS_ENCRYPTION_KEY is not set.")
        digest = hmac.new(raw.encode(), f"relais:{purpose}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest)

    def check_for_serving(self) -> None:
        """Refuse to start on settings that would fail, or be unsafe, in production."""
        problems: list[str] = []
        if self.demo:
            if not self.bot_app_id:
                log.warning(
                    "DEMO MODE: RELAIS_BOT_APP_ID is empty, so Bot Framework authentication is "
                    "OFF and anyone who can reach /api/messages can talk to the bot. "
                    "Never expose a demo server."
                )
            return
        required = {
            "RELAIS_BOT_APP_ID": self.bot_app_id,
            "RELAIS_BOT_APP_PASSWORD": self.bot_app_password.get_secret_value(),
            "RELAIS_ENTRA_CLIENT_ID": self.entra_client_id,
            "RELAIS_ENTRA_CLIENT_SECRET": self.entra_client_secret.get_secret_value(),
            "RELAIS_ENCRYPTION_KEY": self.encryption_key.get_secret_value(),
        }
        for name, value in required.items():
            if not value:
                problems.append(f"{name} is missing")
            elif value.strip().lower() in PLACEHOLDERS:
                problems.append(f"{name} still holds a placeholder ({value!r} is not a real value)")
        if self.bot_app_type == "SingleTenant" and not self.bot_app_tenant_id:
            problems.append(
                "RELAIS_BOT_APP_TENANT_ID is required with RELAIS_BOT_APP_TYPE=SingleTenant"
            )
        if not self.base_url.startswith("https://"):
            problems.append(
                f"RELAIS_BASE_URL must be https:// outside demo mode (got {self.base_url})"
            )
        if problems:
            raise ConfigurationError(
                "Relais will not start in production mode:\n  - "
                + "\n  - ".join(problems)
                + "\nSet them (see the README, 'Configuration'), or set RELAIS_DEMO=true to try "
                "Relais locally."
            )

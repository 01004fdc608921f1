"""The one typed configuration object, read from ``RELAIS_*`` variables and an optional ``.env``.

Every setting, its default and its meaning is listed in the README ("Configuration"). The object is
validated once, at start (:meth:`Settings.check_for_serving`): production refuses placeholders and
missing secrets instead of failing later in the middle of a conversation.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.addresses import parse_allow
from hub.errors import ConfigurationError
from hub.keyring import HOW_TO_MAKE_ONE, derive, split_keys, weakness
from storage.blobs import Location, parse_blob_url

log = logging.getLogger(__name__)

PLACEHOLDERS = {"changeme", "change-me", "todo", "xxx", "your-app-id", "placeholder", "secret"}
DEMO_ENCRYPTION_KEY = "demo-only-key-not-for-production"
# The demo firm's tenant (``relais demo``): demo-mode "sign in as" is limited to it.
DEMO_TENANT_ID = "7d3c1f0e-5b1a-4c7e-9d2f-0a1b2c3d4e5f"
# The Teams app installed for guests in demo mode, where the bot has no registration of its own.
DEMO_TEAMS_APP_ID = "de300000-0000-4000-8000-00000000b075"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RELAIS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A refused value is not repeated in the message: it may be a key or a password.
        hide_input_in_errors=True,
    )

    # -- where and how it runs
    database_url: str = "sqlite+aiosqlite:///relais.db"
    base_url: str = "http://localhost:3978"
    host: str = "127.0.0.1"
    port: int = 3978
    demo: bool = False
    data_dir: Path = Path("data")
    # SQLite only: how long a write waits for another writer before giving up (503, try again).
    database_busy_timeout: float = Field(30.0, ge=0, le=600)
    # Where document files are kept (storage/blobs): empty, the folder <data_dir>/blobs; or an
    # Azure Blob Storage container that every process on every machine shares.
    blob_url: str = ""
    blob_connection_string: SecretStr = SecretStr("")
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
    # A PEM file of the certificate authorities the Entra and Graph clients trust instead of the
    # public ones: for test labs and `relais demo`'s stand-in. Empty in production.
    ca_bundle: str = ""

    # -- outgoing mail
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_from: str = "relais@localhost"
    # How mail leaves: SMTP with the password above (or none), SMTP with an OAuth 2 token
    # (XOAUTH2, Exchange Online), or Microsoft Graph sendMail from the ``smtp_from`` mailbox.
    mail_transport: Literal["smtp", "smtp_oauth", "graph"] = "smtp"
    # The Entra app and tenant the OAuth 2 tokens come from; empty: the Entra app above, and
    # the bot's home tenant.
    mail_tenant_id: str = ""
    mail_client_id: str = ""
    mail_client_secret: SecretStr = SecretStr("")
    # Empty: Exchange Online's (smtp_oauth) or Graph's (graph); set for sovereign clouds.
    mail_oauth_scope: str = ""

    # -- secrets at rest and the panel's session cookie
    encryption_key: SecretStr = SecretStr("")
    # The panel session's absolute lifetime (from sign-in) and how long it may sit unused; both
    # are checked on the server (hub/team/panel_sessions.py), not only by the cookie's Max-Age.
    session_max_age: int = Field(default=8 * 3600, ge=300)
    session_idle_timeout: int = Field(default=30 * 60, ge=60)

    # -- failed-send notices in Teams (hub/notices/, bot/notices.py)
    notice_interval_seconds: float = Field(default=60, ge=0)
    notice_digest_hour: int = Field(default=8, ge=0, le=23)
    notice_timezone: str = "Europe/Paris"

    # -- outbound connections (connectors/addresses.py): hosts and networks exempt from the
    # address policy, comma-separated. For test labs only: empty in production.
    outbound_allow: str = ""
    # -- the delivery worker (connectors/worker.py): how long passing faults are retried
    retry_horizon_seconds: float = Field(default=86400, ge=60)

    @field_validator("base_url", "entra_authority_host", "graph_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    @field_validator("notice_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """A zone name the digest hour is read in; refused at start rather than at 08:00."""
        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Paris)") from error
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _allow_list(cls, value: str) -> str:
        parse_allow(value)  # a typo is refused at start, not taken for a host name later
        return value.strip()

    @field_validator("blob_url")
    @classmethod
    def _blob_address(cls, value: str) -> str:
        parse_blob_url(value, Path("data"))  # a typo is refused at start, not at the first upload
        return value.strip()

    @property
    def blob_location(self) -> Location:
        return parse_blob_url(self.blob_url, self.data_dir)

    @field_validator("ca_bundle")
    @classmethod
    def _ca_file(cls, value: str) -> str:
        """Refused at start rather than as a TLS failure at the first invitation."""
        value = value.strip()
        if value and not Path(value).is_file():
            raise ValueError(f"no such file: {value} (a PEM file of certificate authorities)")
        return value

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
    def mail_oauth(self) -> tuple[str, str, str, str]:
        """``(tenant, client id, client secret, scope)`` of the mail tokens, defaults applied."""
        scope = self.mail_oauth_scope.strip() or (
            "https://graph.microsoft.com/.default"
            if self.mail_transport == "graph"
            else "https://outlook.office365.com/.default"
        )
        return (
            self.mail_tenant_id.strip() or self.bot_app_tenant_id.strip(),
            self.mail_client_id.strip() or self.entra_client_id.strip(),
            (
                self.mail_client_secret.get_secret_value()
                or self.entra_client_secret.get_secret_value()
            ),
            scope,
        )

    def _mail_problems(self) -> list[str]:
        """What keeps the OAuth mail transports from sending (none for plain SMTP)."""
        if self.mail_transport == "smtp":
            return []
        how = f"RELAIS_MAIL_TRANSPORT={self.mail_transport}"
        tenant, client_id, secret, _ = self.mail_oauth
        problems = []
        for name, value in (
            ("RELAIS_MAIL_TENANT_ID (or RELAIS_BOT_APP_TENANT_ID)", tenant),
            ("RELAIS_MAIL_CLIENT_ID (or RELAIS_ENTRA_CLIENT_ID)", client_id),
            ("RELAIS_MAIL_CLIENT_SECRET (or RELAIS_ENTRA_CLIENT_SECRET)", secret),
        ):
            if not value:
                problems.append(f"{name} is missing: {how} gets its tokens from Microsoft Entra")
            elif value.strip().lower() in PLACEHOLDERS:
                problems.append(f"{name} still holds a placeholder ({value!r} is not a real value)")
        sender = self.smtp_from.strip()
        if "@" not in sender or sender.endswith("@localhost") or sender.lower() in PLACEHOLDERS:
            problems.append(
                f"RELAIS_SMTP_FROM must be the Microsoft 365 mailbox Relais sends from with {how}"
                f" (got {sender!r})"
            )
        if self.mail_transport == "smtp_oauth" and not self.smtp_starttls:
            problems.append(
                f"RELAIS_SMTP_STARTTLS must be true with {how}: the token must not cross the "
                "network in clear (Exchange Online: smtp.office365.com, port 587)"
            )
        return problems

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def bot_auth_enabled(self) -> bool:
        return bool(self.bot_app_id)

    @property
    def teams_app_id(self) -> str:
        """The Teams app installed for guests: the bot's registration, or the demo's own id."""
        return self.bot_app_id or (DEMO_TEAMS_APP_ID if self.demo else "")

    @property
    def secure_cookies(self) -> bool:
        return not self.demo

    def encryption_keys(self) -> list[str]:
        """The configured keys, newest first; the fixed demo key in demo mode when none is set."""
        keys = split_keys(self.encryption_key.get_secret_value())
        if keys:
            return keys
        if self.demo:
            return [DEMO_ENCRYPTION_KEY]
        raise ConfigurationError(f"RELAIS_ENCRYPTION_KEY is not set: {HOW_TO_MAKE_ONE}.")

    def fernet_keys(self, purpose: Literal["secrets", "session"] = "secrets") -> list[bytes]:
        """The Fernet keys for ``purpose`` (:mod:`hub.keyring`), newest first: the first
        encrypts, all decrypt."""
        return [derive(key, purpose) for key in self.encryption_keys()]

    def fernet_key(self, purpose: Literal["secrets", "session"] = "secrets") -> bytes:
        """The newest key's Fernet key for ``purpose``: what encrypts and signs."""
        return self.fernet_keys(purpose)[0]

    def _key_problems(self) -> list[str]:
        """Why the encryption keys could be guessed (outside demo mode, every key must be strong:
        the panel accepts a session cookie made with any of them)."""
        keys = split_keys(self.encryption_key.get_secret_value())
        if not keys:
            return [f"RELAIS_ENCRYPTION_KEY is missing: {HOW_TO_MAKE_ONE}"]
        problems = []
        for number, key in enumerate(keys, start=1):
            reason = weakness(key)
            if reason:
                which = f" (key {number} of {len(keys)})" if len(keys) > 1 else ""
                problems.append(
                    f"RELAIS_ENCRYPTION_KEY{which} is too weak ({reason}); {HOW_TO_MAKE_ONE}"
                )
        return problems

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
        problems += self._key_problems()
        problems += self._mail_problems()
        if problems:
            raise ConfigurationError(
                "Relais will not start in production mode:\n  - "
                + "\n  - ".join(problems)
                + "\nSet them (see the README, 'Configuration'), or set RELAIS_DEMO=true to try "
                "Relais locally."
            )

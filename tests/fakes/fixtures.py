"""pytest fixtures for the local fakes (loaded by ``tests/conftest.py`` as a plugin).

=========================  =========  ======================================================
fixture                    scope      what it is
=========================  =========  ======================================================
``fake_ca``                session    the ``trustme`` CA the HTTPS fakes' certificates chain to
``fake_ca_bundle``         session    PEM bundle: public roots (certifi) + ``fake_ca``
``trust_fake_ca``          function   sets ``REQUESTS_CA_BUNDLE`` and ``SSL_CERT_FILE`` to the
                                      bundle (requests/msal, httpx, ``ssl`` defaults); its path
``fake_entra``             function   :class:`~tests.fakes.entra.FakeEntra` over HTTPS (trusted)
``fake_bot_connector``     function   :class:`~tests.fakes.connector.FakeBotConnector`
``fake_channel_issuer``    function   :class:`~tests.fakes.channel.FakeChannelIssuer`
``fake_smtp``              function   :class:`~tests.fakes.smtp.FakeSmtp`
``bot_settings``           function   ``settings`` with Bot Framework authentication ON:
                                      app id :data:`BOT_APP_ID`, tokens checked against
                                      ``fake_channel_issuer``, replies signed by ``fake_entra``
=========================  =========  ======================================================

Build activities with :func:`tests.fakes.activities.teams_message` /
:func:`~tests.fakes.activities.members_added` (``service_url=fake_bot_connector.url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from hub.settings import Settings
from tests.fakes.channel import FakeChannelIssuer
from tests.fakes.connector import FakeBotConnector
from tests.fakes.entra import FakeEntra, write_ca_bundle
from tests.fakes.smtp import FakeSmtp

BOT_APP_ID = "00000000-0000-4000-8000-0000000b0700"
BOT_APP_PASSWORD = "fake-bot-app-password"


@pytest.fixture(scope="session")
def fake_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def fake_ca_bundle(fake_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ca_bundle(fake_ca, tmp_path_factory.mktemp("ca") / "bundle.pem")


@pytest.fixture
def trust_fake_ca(fake_ca_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_ca_bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(fake_ca_bundle))
    return fake_ca_bundle


@pytest.fixture
def fake_entra(fake_ca: trustme.CA, trust_fake_ca: Path) -> Iterator[FakeEntra]:
    entra = FakeEntra(fake_ca, trust_fake_ca).start()
    yield entra
    entra.stop()


@pytest.fixture
def fake_bot_connector() -> Iterator[FakeBotConnector]:
    connector = FakeBotConnector().start()
    yield connector
    connector.stop()


@pytest.fixture
def fake_channel_issuer() -> Iterator[FakeChannelIssuer]:
    issuer = FakeChannelIssuer().start()
    yield issuer
    issuer.stop()


@pytest.fixture
def fake_smtp() -> Iterator[FakeSmtp]:
    smtp = FakeSmtp().start()
    yield smtp
    smtp.stop()


@pytest.fixture
def bot_settings(
    settings: Settings, fake_entra: FakeEntra, fake_channel_issuer: FakeChannelIssuer
) -> Settings:
    """``settings`` with authentication on, wired to the fakes (the app registered at Entra)."""
    fake_entra.add_client(BOT_APP_ID, BOT_APP_PASSWORD)
    return settings.model_copy(
        update={
            "bot_app_id": BOT_APP_ID,
            "bot_app_password": SecretStr(BOT_APP_PASSWORD),
            "bot_openid_metadata_url": fake_channel_issuer.metadata_url,
            "bot_login_url": fake_entra.authority("botframework.com"),
            "entra_authority_host": fake_entra.url,
            "graph_url": fake_entra.graph_url,
        }
    )

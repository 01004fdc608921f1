"""Re-encrypting every stored secret under the newest key (``relais keys rotate``).

Rotating a key: put the new key first in ``RELAIS_ENCRYPTION_KEY`` (``NEW,OLD``), run
:func:`rotate_secrets`, then remove the old key. It also moves secrets sealed by versions before
HKDF (:mod:`hub.vault`'s legacy derivation) to the current one. All or nothing: when one secret
opens with none of the keys, nothing is written and the refusal names every such secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import ConfigurationError
from hub.keyring import HOW_TO_MAKE_ONE, weakness
from hub.services import Hub
from storage.models import ApplicationDraft, CatalogApp, Firm, FirmApplication, StaffUser

SealedModel = type[FirmApplication] | type[ApplicationDraft]


@dataclass(frozen=True)
class Rotation:
    resealed: int  # sealed again under the newest key
    current: int  # already sealed by the newest key: left as they were


@dataclass(frozen=True)
class _Sealed:
    model: SealedModel
    id: int
    token: bytes
    where: str  # names the row for the person at the terminal, never its secret


def _applications() -> Select[int, bytes | None, str, str]:
    return (
        select(FirmApplication.id, FirmApplication.secret_encrypted, CatalogApp.label, Firm.name)
        .join(CatalogApp, CatalogApp.id == FirmApplication.catalog_app_id)
        .join(Firm, Firm.id == FirmApplication.firm_id)
        .where(FirmApplication.secret_encrypted.is_not(None))
        .order_by(FirmApplication.id)
    )


def _drafts() -> Select[int, bytes | None, str, str, str]:
    return (
        select(
            ApplicationDraft.id,
            ApplicationDraft.secret_encrypted,
            CatalogApp.label,
            Firm.name,
            StaffUser.display_name,
        )
        .join(CatalogApp, CatalogApp.id == ApplicationDraft.catalog_app_id)
        .join(Firm, Firm.id == ApplicationDraft.firm_id)
        .join(StaffUser, StaffUser.id == ApplicationDraft.staff_user_id)
        .where(ApplicationDraft.secret_encrypted.is_not(None))
        .order_by(ApplicationDraft.id)
    )


async def _sealed(session: AsyncSession) -> list[_Sealed]:
    """Every secret the vault sealed: the applications' and those of wizards in progress."""
    found = [
        _Sealed(FirmApplication, id, token, f"application {label!r} of {firm!r} (id {id})")
        for id, token, label, firm in await session.execute(_applications())
        if token is not None
    ]
    found += [
        _Sealed(
            ApplicationDraft,
            id,
            token,
            f"{person}'s add-application wizard for {label!r} in {firm!r} (draft id {id})",
        )
        for id, token, label, firm, person in await session.execute(_drafts())
        if token is not None
    ]
    return found


def _check_newest_key(hub: Hub) -> None:
    newest = hub.settings.encryption_keys()[0]
    reason = None if hub.settings.demo else weakness(newest)
    if reason:
        raise ConfigurationError(
            f"The newest key (the first in RELAIS_ENCRYPTION_KEY) is too weak ({reason}); "
            f"{HOW_TO_MAKE_ONE}, and put it first. Nothing was changed."
        )


async def rotate_secrets(hub: Hub) -> Rotation:
    """Seal every stored secret again under the newest key, in one transaction."""
    _check_newest_key(hub)
    async with hub.sessions() as session, session.begin():
        sealed = await _sealed(session)
        resealed: list[tuple[_Sealed, bytes]] = []
        unreadable: list[str] = []
        for row in sealed:
            try:
                token = hub.vault.reseal(row.token)
            except ConfigurationError:
                unreadable.append(row.where)
                continue
            if token is not None:
                resealed.append((row, token))
        if unreadable:
            raise ConfigurationError(
                f"{len(unreadable)} stored secret(s) open with none of the keys in "
                "RELAIS_ENCRYPTION_KEY: " + "; ".join(unreadable) + ". Nothing was changed: add "
                "back the key they were sealed with, or enter those secrets again in the panel."
            )
        written = 0
        for row, token in resealed:
            # Only if unchanged since read: a secret entered meanwhile is already the newest key's.
            result = await session.execute(
                update(row.model)
                .where(row.model.id == row.id, row.model.secret_encrypted == row.token)
                .values(secret_encrypted=token)
                .execution_options(synchronize_session=False)
            )
            written += result.rowcount or 0  # type: ignore[attr-defined]
    return Rotation(resealed=written, current=len(sealed) - written)

"""What a failure notice holds: one message to one dossier master, listing their untold failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Failures listed one by one on a notice; the others are counted ("and 12 more").
MAX_LISTED = 10


@dataclass(frozen=True)
class NoticeItem:
    delivery_id: int
    document: str
    version: int
    dossier_code: str
    dossier_name: str
    application: str
    reason: str


@dataclass(frozen=True)
class FailureNotice:
    """One message to one dossier master: their untold failures, newest first."""

    firm_id: int
    master_id: int
    master_name: str
    locale: str
    digest: bool  # the daily digest rather than an immediate notice
    total: int
    items: tuple[NoticeItem, ...]  # at most MAX_LISTED
    delivery_ids: tuple[int, ...]  # everything this notice covers, marked once it is sent
    first_failed_at: datetime | None = None
    last_failed_at: datetime | None = None

    @property
    def person(self) -> str:
        """How stored conversation references name the master (``hub.conversations``)."""
        return f"staff:{self.master_id}"

    @property
    def more(self) -> int:
        return self.total - len(self.items)

    @property
    def retry_ids(self) -> list[int]:
        """The failures shown: the master may send them again (:func:`hub.rights.may_retry`)."""
        return [item.delivery_id for item in self.items]


@dataclass(frozen=True)
class NoticeRound:
    notices: list[FailureNotice]
    settled: int  # failures marked without a message this round (nobody to tell, too old)

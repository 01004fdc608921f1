"""Telling dossier masters in Teams that documents could not be sent (DESIGN.md workflow 3): a
capability of its own rather than a part of :mod:`hub.dashboards`, because it runs in the
background for the bot and reads what is untold, not what a page filters.

The delivery worker may run in another process (``relais worker``) and never talks to Teams: a
failure it records is a ``delivery`` row with status ``failed`` and ``notified_at`` NULL. The bot's
dispatcher (``bot/notices.py``) asks :func:`pending_notices` each round for what is due, sends one
grouped message per dossier master, and only then marks it with :func:`mark_notified`: if Teams is
unreachable nothing is marked and the same failures come back next round (:mod:`.dispatch`; one
``relais serve`` of several runs a round, :mod:`hub.rounds`).

Each master chooses (:func:`set_failure_notices`, from the panel, :mod:`.choice`) how they hear of
failures: ``immediate`` (one grouped message per round, so a burst of failures makes one message),
``daily`` (one digest a day at ``RELAIS_NOTICE_DIGEST_HOUR`` in ``RELAIS_NOTICE_TIMEZONE``, of
everything failed since the last one; :mod:`.timing`) or ``off``. Failures nobody is to be told of
(no master, an inactive master, notices off) are settled without a message, and so are those still
untold after :data:`MAX_AGE` (a master who never opened the bot, Teams refusing for days):
retrying stops, and the log says so. The failures themselves stay on the dashboard either way.
"""

from hub.notices.choice import (
    CHOICES,
    DAILY,
    IMMEDIATE,
    OFF,
    failure_notices_of,
    set_failure_notices,
)
from hub.notices.dispatch import MAX_AGE, mark_notified, notice_round, pending_notices
from hub.notices.notice import MAX_LISTED, FailureNotice, NoticeItem, NoticeRound
from hub.notices.timing import QUIET, digest_due, digest_moment

__all__ = [
    "CHOICES",
    "DAILY",
    "IMMEDIATE",
    "MAX_AGE",
    "MAX_LISTED",
    "OFF",
    "QUIET",
    "FailureNotice",
    "NoticeItem",
    "NoticeRound",
    "digest_due",
    "digest_moment",
    "failure_notices_of",
    "mark_notified",
    "notice_round",
    "pending_notices",
    "set_failure_notices",
]

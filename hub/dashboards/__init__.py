"""The failed-sends and activity dashboards (seed 000 §4, DESIGN.md workflow 3), for the panel and
the bot's ``failures`` command: the filters and the WHERE they share (:mod:`.filters`), the
failures list in keyset pages (:mod:`.failures`), counts and trend (:mod:`.counts`), activity
(:mod:`.activity`), the CSV export (:mod:`.export`) and "retry all matching" (:mod:`.retry`).

A failure is dated by when its delivery was queued (the document's arrival), the date the list, the
filters, the trend and the export all share. Rights are :func:`hub.rights.visible_dossiers`;
sending again is :func:`hub.history.retry_deliveries`. Telling dossier masters of failures is a
capability of its own, :mod:`hub.notices`: it runs in the background for the bot, not on a page.
"""

from hub.dashboards.activity import Activity, ActivityDay, activity
from hub.dashboards.counts import (
    ApplicationCount,
    DayCount,
    FailureCounts,
    failure_counts,
    failure_trend,
)
from hub.dashboards.export import CSV_COLUMNS, CsvLabels, failures_csv, safe_cell
from hub.dashboards.failures import FailurePage, FailureRow, failures
from hub.dashboards.filters import (
    FailureFilters,
    FilterChoices,
    filter_choices,
    parse_failure_filters,
)
from hub.dashboards.retry import retry_matching

__all__ = [
    "CSV_COLUMNS",
    "Activity",
    "ActivityDay",
    "ApplicationCount",
    "CsvLabels",
    "DayCount",
    "FailureCounts",
    "FailureFilters",
    "FailurePage",
    "FailureRow",
    "FilterChoices",
    "activity",
    "failure_counts",
    "failure_trend",
    "failures",
    "failures_csv",
    "filter_choices",
    "parse_failure_filters",
    "retry_matching",
    "safe_cell",
]

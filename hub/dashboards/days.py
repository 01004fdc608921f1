"""Calendar days in both databases: the UTC day of a time column, the window of the last days,
the seconds between two time columns. SQLite keeps times as text, PostgreSQL as ``timestamptz``:
the SQL date functions differ, and what they give back is read here."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, literal_column

from hub.services import Hub

TREND_DAYS = 30
MAX_DAYS = 366


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_of(hub: Hub, column: Any) -> Any:
    """The UTC calendar day of a time column, in both databases."""
    if hub.settings.is_sqlite:
        return func.date(column)
    return cast(func.timezone("UTC", column), Date)


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def seconds_between(hub: Hub, start: Any, end: Any) -> Any:
    if hub.settings.is_sqlite:
        return (func.julianday(end) - func.julianday(start)) * literal_column("86400.0")
    return func.extract("epoch", end - start)


def window(days: int) -> tuple[list[date], datetime]:
    """The last ``days`` days (today included, at most :data:`MAX_DAYS`) and when the first began."""
    days = max(1, min(days, MAX_DAYS))
    today = datetime.now(UTC).date()
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    return span, start_of(span[0])

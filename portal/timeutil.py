"""Time helpers shared by the domains."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from portal.i18n import message


def as_aware(value: dt.datetime | None, tz: str) -> dt.datetime | None:
    """A datetime a person typed without a zone is read in the portal's time zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(tz))
    return value


# Dates people may type: far enough both ways for any report, near enough that adding a day or a time
# zone offset (and the database's conversion to UTC) never leaves datetime's range of years 1–9999.
MIN_YEAR, MAX_YEAR = 1900, 9000


class DateOutOfRange(ValueError):
    def __init__(self) -> None:
        super().__init__(message("errors_core.date_out_of_range", min=MIN_YEAR, max=MAX_YEAR))


def check_range(value: dt.datetime) -> dt.datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise DateOutOfRange()
    return value


def parse_local(text: str | None, tz: str) -> dt.datetime | None:
    """Parse ``YYYY-MM-DD`` or an ISO datetime from a form; None for empty; ValueError for nonsense.

    ``DateOutOfRange`` (a ValueError whose text a person can act on) for years outside MIN_YEAR–MAX_YEAR.
    """
    if not text or not text.strip():
        return None
    text = text.strip()
    if len(text) == 10:
        return check_range(dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=ZoneInfo(tz)))
    return as_aware(check_range(dt.datetime.fromisoformat(text)), tz)

"""Time helpers shared by the domains."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def as_aware(value: dt.datetime | None, tz: str) -> dt.datetime | None:
    """A datetime a person typed without a zone is read in the portal's time zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(tz))
    return value


def parse_local(text: str | None, tz: str) -> dt.datetime | None:
    """Parse ``YYYY-MM-DD`` or an ISO datetime from a form; None for empty; ValueError for nonsense."""
    if not text or not text.strip():
        return None
    text = text.strip()
    if len(text) == 10:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=ZoneInfo(tz))
    return as_aware(dt.datetime.fromisoformat(text), tz)

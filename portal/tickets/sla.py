"""SLA clocks: the reaction deadline by priority, in the round-the-clock or the working-hours calendar.

The regulation («Приоритет заявок») gives the reaction time of support per priority: critical 8 h,
high 16 h, medium 96 h, low 96 h (``PORTAL_SLA_REACTION_HOURS``). The hours are counted either round
the clock (``24x7``) or only within working hours on working days in the portal's time zone, skipping
holidays (``working_hours``). The same calendar's working days space the reminders sent while a ticket
awaits information from the customer.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# The formats of the SLA settings are parsed where the settings are validated (config sits below every
# domain); they are re-exported here for the SLA's own readers.
from portal.config import (
    PRIORITIES,
    WEEKDAYS,
    Settings,
    parse_holidays,
    parse_reaction_hours,
    parse_working_days,
    parse_working_hours,
)

__all__ = ["PRIORITIES", "WEEKDAYS", "Calendar", "median_hours", "next_reminder", "parse_holidays",
           "parse_reaction_hours", "parse_working_days", "parse_working_hours", "reaction_due"]

@dataclass(frozen=True)
class Calendar:
    """Counts SLA hours: round the clock, or within working hours on working days except holidays."""

    kind: str
    tz: ZoneInfo
    start: dt.time
    end: dt.time
    days: frozenset[int]
    holidays: frozenset[dt.date]

    @classmethod
    def from_settings(cls, settings: Settings) -> Calendar:
        start, end = parse_working_hours(settings.working_hours)
        return cls(kind=settings.sla_calendar, tz=ZoneInfo(settings.timezone), start=start, end=end,
                   days=parse_working_days(settings.working_days), holidays=parse_holidays(settings.holidays))

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def _windows(self, moment: dt.datetime):
        """Working windows (start, end) in UTC from the day of ``moment`` on."""
        day = moment.astimezone(self.tz).date()
        for _ in range(3660):  # ten years of days: a calendar with no working day at all is refused earlier
            if self.is_working_day(day):
                yield (dt.datetime.combine(day, self.start, self.tz).astimezone(dt.UTC),
                       dt.datetime.combine(day, self.end, self.tz).astimezone(dt.UTC))
            day += dt.timedelta(days=1)

    def add_hours(self, moment: dt.datetime, hours: float) -> dt.datetime:
        """The moment ``hours`` of this calendar after ``moment``."""
        if self.kind == "24x7":
            return moment + dt.timedelta(hours=hours)
        left = dt.timedelta(hours=hours)
        for start, end in self._windows(moment):
            if end <= moment:
                continue
            begin = max(start, moment)
            if begin + left <= end:
                return begin + left
            left -= end - begin
        raise ValueError("the working calendar has no working time ahead")

    def elapsed(self, since: dt.datetime, until: dt.datetime) -> dt.timedelta:
        """Time of this calendar between two moments (zero when ``until`` is earlier)."""
        if until <= since:
            return dt.timedelta(0)
        if self.kind == "24x7":
            return until - since
        total = dt.timedelta(0)
        for start, end in self._windows(since):
            if start >= until:
                break
            begin, finish = max(start, since), min(end, until)
            if finish > begin:
                total += finish - begin
        return total

    def add_working_days(self, moment: dt.datetime, days: int) -> dt.date:
        """The date ``days`` working days after the local date of ``moment`` (for reminders)."""
        day = moment.astimezone(self.tz).date()
        counted = 0
        while counted < days:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day


def reaction_due(settings: Settings, *, registered_at: dt.datetime, priority: str) -> dt.datetime:
    """The reaction deadline: registration plus the priority's hours in the configured calendar."""
    hours = parse_reaction_hours(settings.sla_reaction_hours)[priority]
    return Calendar.from_settings(settings).add_hours(registered_at, hours)


def next_reminder(settings: Settings, *, since: dt.datetime) -> dt.date:
    """The date of the next reminder about requested information: every N working days."""
    return Calendar.from_settings(settings).add_working_days(since, settings.info_reminder_days)


def median_hours(durations: list[dt.timedelta]) -> float | None:
    if not durations:
        return None
    return round(statistics.median(d.total_seconds() for d in durations) / 3600, 2)

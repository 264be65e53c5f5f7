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
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from portal.config import Settings

PRIORITIES = ("critical", "high", "medium", "low")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_reaction_hours(text: str) -> dict[str, float]:
    """``critical=8,high=16,medium=96,low=96`` → {priority: hours}; every priority must be given."""
    table: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, hours = part.partition("=")
        name = name.strip()
        if not sep or name not in PRIORITIES:
            raise ValueError(f"expected priority=hours with priorities {', '.join(PRIORITIES)}; got {part!r}")
        try:
            value = float(hours)
        except ValueError:
            raise ValueError(f"hours of {name} must be a number; got {hours!r}") from None
        if value <= 0:
            raise ValueError(f"hours of {name} must be positive")
        table[name] = value
    missing = [p for p in PRIORITIES if p not in table]
    if missing:
        raise ValueError(f"reaction hours missing for {', '.join(missing)}")
    return table


def parse_working_hours(text: str) -> tuple[dt.time, dt.time]:
    """``09:00-18:00`` → (start, end)."""
    try:
        start_text, end_text = text.split("-")
        start, end = dt.time.fromisoformat(start_text.strip()), dt.time.fromisoformat(end_text.strip())
    except ValueError:
        raise ValueError(f"working hours must look like 09:00-18:00; got {text!r}") from None
    if start >= end:
        raise ValueError("working hours must end after they start")
    return start, end


def parse_working_days(text: str) -> frozenset[int]:
    """``mon,tue,wed,thu,fri`` → {0, 1, 2, 3, 4} (Python weekdays)."""
    days = set()
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part not in WEEKDAYS:
            raise ValueError(f"working days are mon … sun; got {part!r}")
        days.add(WEEKDAYS.index(part))
    if not days:
        raise ValueError("at least one working day is needed")
    return frozenset(days)


def parse_holidays(text: str) -> frozenset[dt.date]:
    """``2026-01-01,2026-01-02`` → the set of dates."""
    try:
        return frozenset(dt.date.fromisoformat(p.strip()) for p in text.split(",") if p.strip())
    except ValueError:
        raise ValueError(f"holidays must be YYYY-MM-DD dates separated by commas; got {text!r}") from None


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

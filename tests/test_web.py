"""The values pages show people: sizes in КБ/МБ/ГБ, durations in words, moments in the portal's time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.web import _localtime, duration, filesize


@pytest.mark.parametrize(("size", "ru", "en"), [
    (0, "0 Б", "0 B"), (1, "1 Б", "1 B"), (1023, "1023 Б", "1023 B"), (1024, "1 КБ", "1 KB"),
    (1536, "1,5 КБ", "1.5 KB"), (3_000_854, "2,9 МБ", "2.9 MB"), (150 * 2**20, "150 МБ", "150 MB"),
    (int(1.25 * 2**30), "1,2 ГБ", "1.2 GB"), (None, "—", "—"),
])
def test_filesize_in_both_languages(size, ru, en):
    assert filesize(size, "ru") == ru
    assert filesize(size, "en") == en


@pytest.mark.parametrize(("value", "ru", "en"), [
    (4.6, "5 секунд", "5 seconds"), (1, "1 секунда", "1 second"), (3, "3 секунды", "3 seconds"),
    (dt.timedelta(seconds=30), "30 секунд", "30 seconds"), (dt.timedelta(minutes=1), "1 минута", "1 minute"),
    (dt.timedelta(minutes=22), "22 минуты", "22 minutes"), (dt.timedelta(minutes=11), "11 минут", "11 minutes"),
    (dt.timedelta(hours=1, minutes=30), "1 час 30 минут", "1 hour 30 minutes"),
    (dt.timedelta(days=2, hours=3, minutes=5), "2 дня 3 часа", "2 days 3 hours"),
    (dt.timedelta(days=21), "21 день", "21 days"), (0, "0 секунд", "0 seconds"),
])
def test_duration_in_words(value, ru, en):
    assert duration(value, "ru") == ru
    assert duration(value, "en") == en


def test_duration_of_hours_has_no_decimal_point():
    assert duration(1.0, "ru", unit="h") == "1 час"
    assert duration(1.5, "ru", unit="h") == "1 час 30 минут"
    assert duration(24, "en", unit="h") == "1 day"


def test_localtime_reads_iso_text_of_event_details_in_the_portal_zone():
    moment = dt.datetime(2031, 3, 15, 20, 59, tzinfo=dt.UTC)
    assert _localtime(moment, tz="Europe/Moscow") == "15.03.2031 23:59"
    assert _localtime(moment.isoformat(), tz="Europe/Moscow") == "15.03.2031 23:59"
    assert _localtime("2031-03-15T20:59:00", tz="Europe/Moscow") == "15.03.2031 23:59"  # stored without a zone: UTC
    assert _localtime("2031-03-15", tz="Europe/Moscow") == "15.03.2031"
    assert _localtime("не дата", tz="Europe/Moscow") == "не дата"
    assert _localtime(None, tz="Europe/Moscow") == "—"

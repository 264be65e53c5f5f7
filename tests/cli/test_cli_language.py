"""The command line speaks the operator's locale: Russian by default, English when LC_ALL / LC_MESSAGES / LANG
(in that order) starts with ``en`` — ``portal doctor`` and a refused command, through Typer's runner."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from portal.cli import app
from portal.cli.common import language

runner = CliRunner()
CYRILLIC = re.compile("[А-Яа-яЁё]")


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    return settings


@pytest.mark.parametrize("locale,expected", [
    ({}, "ru"), ({"LANG": "C.UTF-8"}, "ru"), ({"LANG": "ru_RU.UTF-8"}, "ru"), ({"LANG": "en_GB.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "ru_RU.UTF-8"}, "ru"), ({"LANG": "ru_RU.UTF-8", "LC_MESSAGES": "en_US"}, "en"),
    ({"LC_MESSAGES": "en_US.UTF-8", "LC_ALL": "C"}, "ru"), ({"LC_ALL": "en_US.UTF-8", "LANG": "ru_RU"}, "en"),
])
def test_the_locale_that_words_messages_chooses(monkeypatch, locale, expected):
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in locale.items():
        monkeypatch.setenv(variable, value)
    assert language() == expected


def test_doctor_in_russian_and_in_english(env):
    assert runner.invoke(app, ["init", "--admin-password", "admin-pass-123"]).exit_code == 0
    ru = runner.invoke(app, ["doctor"])
    en = runner.invoke(app, ["doctor"], env={"LANG": "en_US.UTF-8"})
    # no search index has been built: both fail on it, each in its own words
    assert ru.exit_code == en.exit_code == 1, (ru.output, en.output)
    assert "в порядке  база данных" in ru.output and "поисковый индекс: индекс не построен" in ru.output
    assert "Неисправно компонентов: 1." in ru.output
    assert "ok  database" in en.output and "FAIL    search index: the index is not built" in en.output
    assert "Components failing: 1." in en.output
    assert "file://" in en.output  # the blob store's own description: one form in every language
    assert not CYRILLIC.search(en.output), en.output


def test_a_refusal_is_worded_in_the_operators_language(env):
    runner.invoke(app, ["init", "--admin-password", "admin-pass-123"])
    ru = runner.invoke(app, ["user", "disable", "ghost"])
    en = runner.invoke(app, ["user", "disable", "ghost"], env={"LANG": "en_US.UTF-8"})
    assert ru.exit_code == en.exit_code == 1
    assert ru.output.startswith("Ошибка:") and "не найден" in ru.output
    assert en.output.startswith("Error:") and not CYRILLIC.search(en.output), en.output

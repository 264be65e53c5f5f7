"""portal ticket … and portal catalogue … through Typer's runner against a real database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from portal.cli import app
from tests.tickets.helpers import catalogue, register

runner = CliRunner()


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("COLUMNS", "200")
    return settings


def test_catalogue_commands(env):
    assert runner.invoke(app, ["catalogue", "module", "add", "RUM-агент"]).exit_code == 0
    assert runner.invoke(app, ["catalogue", "version", "add", "5.0"]).exit_code == 0
    assert "RUM-агент" in runner.invoke(app, ["catalogue", "module", "list"]).output
    assert runner.invoke(app, ["catalogue", "version", "unsupport", "5.0"]).exit_code == 0
    assert "больше не поддерживается" in runner.invoke(app, ["catalogue", "version", "list"]).output
    again = runner.invoke(app, ["catalogue", "module", "add", "RUM-агент"])
    assert again.exit_code == 1 and "уже есть" in again.output
    bad = runner.invoke(app, ["catalogue", "version", "add", "5/1"])
    assert bad.exit_code == 2


def test_ticket_list_and_show(env, db, make):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"))
    tid = register(db, env, customer, priority="critical", summary="Агент молчит")
    listed = runner.invoke(app, ["ticket", "list", "--org", "romashka", "--priority", "critical"])
    assert listed.exit_code == 0 and tid in listed.output
    assert tid not in runner.invoke(app, ["ticket", "list", "--priority", "low"]).output
    assert tid in runner.invoke(app, ["ticket", "list", "--queue"]).output
    shown = runner.invoke(app, ["ticket", "show", tid])
    assert shown.exit_code == 0 and "Агент молчит" in shown.output and "Заявка зарегистрирована" in shown.output
    missing = runner.invoke(app, ["ticket", "show", "PRM-2026-99999"])
    assert missing.exit_code == 1 and "не найдена" in missing.output
    assert runner.invoke(app, ["ticket", "list", "--status", "lost"]).exit_code == 2

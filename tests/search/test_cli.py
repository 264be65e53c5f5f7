"""``portal search rebuild`` and ``portal search status`` through Typer's runner."""

from __future__ import annotations

from typer.testing import CliRunner

from portal.cli import app
from portal.search.index import IndexStore


def env(settings):
    return {"PORTAL_HOME": str(settings.home), "PORTAL_DATABASE_URL": settings.database_url,
            "PORTAL_SECRET_KEY": "test-secret-key-not-for-production"}


def test_rebuild_and_status(settings, kb):
    runner = CliRunner()
    result = runner.invoke(app, ["search", "rebuild"], env=env(settings))
    assert result.exit_code == 0, result.output
    assert "29 published articles" in result.output and kb[:10] in result.output
    assert IndexStore(settings.index_path).current() is not None
    result = runner.invoke(app, ["search", "status"], env=env(settings))
    assert result.exit_code == 0 and kb in result.output and "hybrid" in result.output


def test_status_without_an_index(settings, kb):
    result = CliRunner().invoke(app, ["search", "status"], env=env(settings))
    assert result.exit_code == 0 and "No search index yet" in result.output

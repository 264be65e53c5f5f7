"""``portal search rebuild`` and ``portal search status`` through Typer's runner."""

from __future__ import annotations

from typer.testing import CliRunner

from portal.cli import app
from portal.search.index import IndexStore


def env(settings):
    return {"PORTAL_HOME": str(settings.home), "PORTAL_DATABASE_URL": settings.database_url,
            "PORTAL_SECRET_KEY": "test-secret-key-not-for-production",
            "COLUMNS": "400"}  # wide enough that no path or table cell is wrapped


def test_rebuild_and_status(settings, kb):
    runner = CliRunner()
    result = runner.invoke(app, ["search", "rebuild"], env=env(settings))
    assert result.exit_code == 0, result.output
    assert "опубликованных статей: 29" in result.output and kb[:10] in result.output
    generation = IndexStore(settings.index_path).current()
    assert generation is not None and generation.name in result.output
    result = runner.invoke(app, ["search", "status"], env=env(settings))
    assert result.exit_code == 0 and kb in result.output and "hybrid" in result.output
    assert "whoosh" in result.output


def test_rebuild_and_status_say_where_the_postgresql_index_is(settings, kb, search_databases):
    chosen = {**env(settings), "PORTAL_DATABASE_URL": search_databases.create(), "PORTAL_SEARCH_BACKEND": "postgresql"}
    runner = CliRunner()
    result = runner.invoke(app, ["search", "rebuild"], env=chosen)
    assert result.exit_code == 0, result.output
    assert "опубликованных статей: 29" in result.output and "table search_documents" in result.output
    assert str(settings.index_path) not in result.output
    result = runner.invoke(app, ["search", "status"], env=chosen)
    assert result.exit_code == 0 and kb in result.output and "postgresql" in result.output
    assert "search_documents" in result.output and str(settings.index_path) not in result.output


def test_status_without_an_index(settings, kb):
    result = CliRunner().invoke(app, ["search", "status"], env=env(settings))
    assert result.exit_code == 0 and "Поискового индекса ещё нет" in result.output

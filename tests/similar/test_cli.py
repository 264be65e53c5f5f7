"""``portal search rebuild --tickets`` and the ticket index in ``portal search status``, through Typer's runner."""

from __future__ import annotations

from typer.testing import CliRunner

from portal.cli import app
from portal.search.similar import service as similar
from portal.search.similar.documents import TicketText
from tests.similar.seeding import insert_rows, row


def env(settings):
    return {"PORTAL_HOME": str(settings.home), "PORTAL_DATABASE_URL": settings.database_url,
            "PORTAL_SECRET_KEY": "test-secret-key-not-for-production", "PORTAL_SEARCH_BACKEND": settings.search_backend,
            "COLUMNS": "400"}


def test_rebuild_tickets_and_status(settings, db, make):
    org = make.org()
    with db.session_scope() as s:  # written straight into the table: no event told the index
        insert_rows(s, [row(f"PRM-2025-{n:05d}", org.id, summary=f"Агент STM не запускается, ошибка {n}",
                            description="Служба падает при старте.", solution="Исправить конфигурацию.")
                        for n in range(1, 8)])
    runner = CliRunner()
    result = runner.invoke(app, ["search", "status"], env=env(settings))
    assert result.exit_code == 0 and "Индекса заявок ещё нет" in result.output
    result = runner.invoke(app, ["search", "rebuild", "--tickets"], env=env(settings))
    assert result.exit_code == 0, result.output
    assert "проиндексировано заявок: 7" in result.output and "Индексация заявок" in result.output
    result = runner.invoke(app, ["search", "status"], env=env(settings))
    assert result.exit_code == 0 and "Индекс заявок: заявок 7" in result.output
    assert settings.search_backend in result.output
    found = similar.backend(settings).similar(TicketText(summary="не стартует агент STM, ошибка 3"), scope="solved")
    assert found[0].ticket_id == "PRM-2025-00003"

"""portal kb export: a built edition copied for hosting elsewhere, its served.js replaced by standalone.js (so
Material's own search answers there), through Typer's runner against a real data home and a real build."""

from __future__ import annotations

from typer.testing import CliRunner

from portal.cli import app
from portal.knowledge import export, site

runner = CliRunner()


def test_export_copies_a_built_edition_with_material_search_of_its_own(settings, db, content_repo, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "cli-test-secret")
    target = tmp_path / "kb-public"
    unbuilt = runner.invoke(app, ["kb", "export", str(target), "--edition", "public"])
    assert unbuilt.exit_code != 0 and "ещё не собрана" in unbuilt.output

    assert {r.status for r in site.build(settings=settings, db=db, editions=["public"])} == {"built"}
    done = runner.invoke(app, ["kb", "export", str(target), "--edition", "public"])
    assert done.exit_code == 0, done.output
    assert "Редакция public" in done.output
    served = target / export.SERVED_SCRIPT
    assert served.read_text(encoding="utf-8") == (site.THEME_DIR / export.STANDALONE_SCRIPT).read_text(encoding="utf-8")
    # the portal's own copy keeps the script that hands the search box to the portal
    live = site.edition_dir(settings, "public") / export.SERVED_SCRIPT
    assert "data-portal-search" in live.read_text(encoding="utf-8")
    assert (target / "search" / "search_index.json").exists() and (target / "index.html").exists()
    again = runner.invoke(app, ["kb", "export", str(target), "--edition", "public"])
    assert again.exit_code != 0 and "не пуст" in again.output
    unknown = runner.invoke(app, ["kb", "export", str(tmp_path / "x"), "--edition", "partners"])
    assert unknown.exit_code != 0 and "неизвестная редакция" in unknown.output

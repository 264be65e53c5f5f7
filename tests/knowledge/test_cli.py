"""portal kb …: check, publish and build through Typer's runner against a real data home."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from portal.cli import app
from portal.content import ContentRepo

runner = CliRunner()


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "cli-test-secret")
    return settings


def run(*args):
    return runner.invoke(app, list(args))


def test_check_passes_on_the_starter_content_and_names_problems(env, content_repo):
    ok = run("kb", "check")
    assert ok.exit_code == 0, ok.output
    assert "статьи" in ok.output and "в порядке" in ok.output
    with content_repo.writing():
        content_repo.commit_files(files={
            "kb/howto/broken.md": "---\ntitle: Сломанная\nkind: essay\n---\n\nСм. [нет такой](missing.md).\n",
            "kb/howto/leaky.md": "---\ntitle: Открытая\nkind: howto\nvisibility: public\nstatus: published\n---\n\n"
                                 "См. [памятку](../second-line/triage-checklist.md).\n",
            "kb/howto/Bad_Name.md": "---\ntitle: x\nkind: howto\n---\n",
        }, message="Статьи с ошибками")
    bad = run("kb", "check")
    assert bad.exit_code == 1
    assert "kb/howto/broken.md: Проверьте поля статьи — Тип статьи" in bad.output
    assert "triage-checklist.md" in bad.output and "узкой видимостью" in bad.output
    assert "Bad_Name.md" in bad.output


def test_publish_as_a_writer_then_build_with_progress(env, content_repo, make, db, write_article):
    writer = make.user("writer", username="sokolova", full_name="Мария Соколова")
    article = write_article(writer, visibility="public")
    r = run("kb", "publish", article.slug, "--as", "sokolova")
    assert r.exit_code == 0, r.output
    commit = ContentRepo(env).head()
    assert commit[:12] in r.output
    r = run("kb", "publish", "no-such-article")
    assert r.exit_code == 1 and "не найдена" in r.output
    r = run("kb", "build", "--edition", "public")
    assert r.exit_code == 0, r.output
    assert "public" in r.output and "built" in r.output and commit[:12] in r.output
    assert (env.site_path / "public" / "problems" / article.slug / "index.html").exists()
    r = run("kb", "build", "--edition", "public", "--if-stale")
    assert r.exit_code == 0 and "skipped" in r.output
    r = run("kb", "build", "--edition", "everyone")
    assert r.exit_code == 2 and "everyone" in r.output

"""portal package … through Typer's runner against a real data home and database."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from portal import blobs
from portal.cli import app
from portal.releases.models import Package, PackageFile

runner = CliRunner()


@pytest.fixture
def env(settings, monkeypatch, world):
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("COLUMNS", "200")
    return settings


def run(*args):
    return runner.invoke(app, list(args))


def test_upload_list_publish_withdraw_verify(env, world, db, tmp_path):
    a, b = tmp_path / "fix.tar.gz", tmp_path / "README.txt"
    a.write_bytes(b"tarball" * 5000)
    b.write_bytes("Установка: распакуйте архив.\n".encode())
    r = run("package", "upload", str(a), str(b), "--id", "primoart-5.2.1-hf3", "--title", "Исправление",
            "--version", "5.2.1-hf3", "--ticket", world.t_romashka, "--org", "vector", "--product-version", "5.2")
    assert r.exit_code == 0, r.output
    assert "fix.tar.gz" in r.output and "35000" in r.output and "(черновик)" in r.output
    listed = run("package", "list")
    assert "primoart-5.2.1-hf3" in listed.output and "черновик" in listed.output
    published = run("package", "publish", "primoart-5.2.1-hf3")
    assert published.exit_code == 0 and "опубликован" in published.output
    again = run("package", "publish", "primoart-5.2.1-hf3")
    assert again.exit_code == 1 and "уже опубликован" in again.output
    ok = run("package", "verify")
    assert ok.exit_code == 0, ok.output
    assert "Проверено файлов пакетов: 2" in ok.output and "повреждено: 0" in ok.output
    with db.session_scope(write=False) as s:
        sha = s.query(PackageFile).filter_by(name="fix.tar.gz").one().sha256
    path = blobs.blob_store(env).path(sha)
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered" * 10)
    bad = run("package", "verify")
    assert bad.exit_code == 1 and "ПОВРЕЖДЁН" in bad.output and "fix.tar.gz" in bad.output
    with db.session_scope(write=False) as s:
        assert s.query(PackageFile).filter_by(name="fix.tar.gz").one().corrupt_at is not None
    withdrawn = run("package", "withdraw", "primoart-5.2.1-hf3", "--reason", "Файл повреждён")
    assert withdrawn.exit_code == 0 and "отозван" in withdrawn.output
    with db.session_scope(write=False) as s:
        assert s.get(Package, "primoart-5.2.1-hf3").status == "withdrawn"


def test_upload_refusal_keeps_nothing(env, world, db, tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"x" * 10)
    r = run("package", "upload", str(empty), "--id", "pkg-1", "--title", "T", "--version", "1.0",
            "--ticket", "PRM-2026-55555")
    assert r.exit_code == 2 and "PRM-2026-55555" in r.output
    assert not [p for p in env.blobs_path.rglob("*") if p.is_file()]
    with db.session_scope(write=False) as s:
        assert s.query(Package).count() == 0

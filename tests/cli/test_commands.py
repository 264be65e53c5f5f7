"""The operator's commands, through Typer's runner against a real data home and database."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from portal.cli import app

runner = CliRunner()


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    return settings


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_init_demo_is_idempotent(env):
    first = run("init", "--demo", "--admin-password", "admin-pass-123")
    assert first.exit_code == 0, first.output
    assert "создана учётная запись администратора" in first.output
    for login in ("admin", "ivanova", "petrov", "support", "developer", "qa", "writer"):
        assert login in first.output
    assert (env.home / "secret_key").exists()
    assert (env.home / "content" / ".git").is_dir()
    assert (env.home / "content" / "mkdocs.yml").exists()
    secret = (env.home / "secret_key").read_text()
    second = run("init", "--demo")
    assert second.exit_code == 0
    assert "Делать нечего" in second.output
    assert (env.home / "secret_key").read_text() == secret
    orgs = run("org", "list")
    assert "romashka" in orgs.output and "ООО Ромашка" in orgs.output
    assert "vector" in orgs.output and "АО Вектор" in orgs.output
    users = run("user", "list").output
    for role in ("admin", "support", "developer", "qa", "writer", "customer"):
        assert role in users


def test_org_and_user_commands(env):
    run("init", "--admin-password", "admin-pass-123")
    assert run("org", "add", "acme", "--name", "ООО Акме").exit_code == 0
    r = run("user", "add", "kate", "--role", "customer", "--org", "acme", "--password-stdin",
            "--email", "kate@acme.test", "--name", "Екатерина", input="a-long-password\n")
    assert r.exit_code == 0, r.output
    r = run("user", "add", "gen", "--role", "qa")
    assert r.exit_code == 0 and "показан один раз" in r.output
    assert run("user", "disable", "kate").exit_code == 0
    assert "нет" in [line for line in run("user", "list").output.splitlines() if "kate" in line][0]
    r = run("user", "passwd", "gen", "--password-stdin", input="another-long-one\n")
    assert r.exit_code == 0


@pytest.mark.parametrize("args,message", [
    (("user", "add", "x", "--role", "wizard", "--password", "long-enough"), "неизвестная роль"),
    (("user", "add", "x", "--role", "customer", "--password", "long-enough"), "должен принадлежать организации"),
    (("user", "add", "x", "--role", "customer", "--org", "nowhere", "--password", "long-enough"), "nowhere"),
    (("user", "disable", "ghost"), "не найден"),
    (("org", "add", "Bad Slug", "--name", "X"), "латинские"),
    (("user", "add", "x", "--role", "qa", "--password", "short"), "не короче"),
])
def test_bad_input_exits_non_zero_with_message(env, args, message):
    run("init", "--admin-password", "admin-pass-123")
    r = run(*args)
    assert r.exit_code != 0
    assert message in r.output
    assert "Traceback" not in r.output


def test_commands_refuse_an_uninitialised_database(env, tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_DATABASE_URL", f"sqlite:///{tmp_path / 'nothing.db'}")
    r = run("org", "list")
    assert r.exit_code != 0 and "portal init" in r.output


def test_config_masks_secrets(env, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_KEY", "super-secret-value")
    monkeypatch.setenv("PORTAL_DATABASE_URL", "postgresql+psycopg://portal:hunter2@db.example/portal")
    r = run("config")
    assert r.exit_code == 0
    assert "super-secret-value" not in r.output and "hunter2" not in r.output
    assert "PORTAL_TICKET_PREFIX" in r.output


def test_audit_command_lists_changes(env):
    run("init", "--admin-password", "admin-pass-123")
    run("org", "add", "acme", "--name", "ООО Акме")
    r = run("audit", "--actor", "cli")
    assert r.exit_code == 0 and "org.create" in r.output
    assert run("audit", "--since", "yesterday").exit_code == 2


def test_the_operator_is_named_and_goes_through_the_policy(env):
    """The audit log names the operator by their OS account; acting ``--as`` a person gives exactly that
    person's rights — a customer may not draft an article, as over HTTP."""
    import getpass

    from portal import audit
    from portal.db import Database

    run("init", "--admin-password", "admin-pass-123")
    assert run("org", "add", "acme", "--name", "ООО Акме").exit_code == 0
    r = run("user", "add", "kate", "--role", "customer", "--org", "acme", "--password", "long-enough-pass")
    assert r.exit_code == 0, r.output
    refused = run("kb", "new", "--from-ticket", "PRM-2026-00001", "--as", "kate")
    assert refused.exit_code == 1 and "Недостаточно прав" in refused.output
    db = Database(env)
    try:
        with db.session_scope(write=False) as s:
            actors = [(e.action, e.object_id, e.actor) for e in audit.query(s)]
    finally:
        db.dispose()
    operator = f"cli:{getpass.getuser()}"
    assert ("user.create", "admin", "init") in actors  # portal init names itself
    assert ("org.create", "acme", operator) in actors and ("user.create", "kate", operator) in actors

"""Withdrawal and replacement notices reach exactly the organisations that received the package (issue #16).

Over HTTP against the real server, with e-mail through a real SMTP server (aiosmtpd): a package for all
customers downloaded by one organisation and not another — only the first is told, acknowledges, and leaves the
board's «not acknowledged» list; a replacement's notice reaches only holders; no notice names another
organisation; a customer of another organisation cannot acknowledge it (answered as missing). A withdrawal cut off
between its git commit and its database transaction gets its notices exactly once from the reconciliation.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import func, select

from portal import audit, housekeeping, intents
from portal.db import Database
from portal.releases import ledger, notices, supersede
from portal.releases.models import Delivery, NoticeKind, Package, PackageNotice
from tests.notify.conftest import sending_through, smtp, text_of  # noqa: F401 (smtp: the fixture)
from tests.notify.helpers import deliver
from tests.releases.conftest import create, downloads_logged, load, stage

OLD = "primoart-5.2.1-hf3"
NEW = "primoart-5.2.1-hf4"
REASON = "Ломает импорт справочников при обновлении с 5.1"


@pytest.fixture
def settings(settings, smtp):
    """Every process of the test (the server, the services) sends through the test's SMTP server."""
    return sending_through(settings, smtp)


@pytest.fixture
def published(db, settings, world):
    """A package for all customers, published; romashka's customer downloads it, vector's and third's never."""
    return create(db, settings, world.support, package_id=OLD, orgs=["all"], publish=True)


def download(api, user, package_id: str) -> None:
    r = api.get(user, f"/api/v1/packages/{package_id}/files/{package_id}.tar.gz")
    assert r.status_code == 200, r.text


def mail_of(smtp, kind_subject: str) -> list:
    return [m for m in smtp.messages if kind_subject in str(m["Subject"])]


def html(api, user, url: str):
    return api.client.get(url, headers={**api.headers(user), "accept": "text/html"})


def test_withdrawal_notice_reaches_only_the_organisation_that_downloaded(api, db, settings, smtp, world, published):
    download(api, world.ivanova, OLD)
    assert downloads_logged(db)
    r = api.post(world.support, f"/api/v1/packages/{OLD}/withdraw", json={"reason": REASON})
    assert r.status_code == 200, r.text
    assert [d["organization"] for d in r.json()["received_by"]] == ["romashka"]

    deliver(db, settings)
    told = mail_of(smtp, "отозван")
    assert [str(m["To"]) for m in told] == [world.ivanova.email]
    body = text_of(told[0])
    assert REASON in body and OLD in body and "ООО Ромашка" in body
    for other in ("АО Вектор", "vector", "third", world.petrov.email, world.t_vector):
        assert all(other not in text_of(m) and other not in str(m["Subject"]) for m in smtp.messages
                   if str(m["To"]) == world.ivanova.email), other
    assert not [m for m in smtp.to(world.petrov.email) + smtp.to(world.outsider.email) if OLD in text_of(m)
                and "отозван" in text_of(m)]  # entitled, never downloaded: told nothing

    with db.session_scope(write=False) as s:
        states = {d.organization.slug: d.status for d in s.scalars(select(Delivery).where(Delivery.package_id == OLD))}
    assert states == {"romashka": "withdrawn_notified", "vector": "pending", "third": "pending"}

    own = api.get(world.ivanova, "/api/v1/notices").json()
    assert [(n["package_id"], n["kind"], n["reason"], n["organization"]) for n in own] == \
        [(OLD, "withdrawn", REASON, "romashka")]
    assert api.get(world.petrov, "/api/v1/notices").json() == []
    notice_id = own[0]["id"]

    # The dashboard shows the notice with its button; vector's shows no notice (only the withdrawn status).
    home = html(api, world.ivanova, "/")
    assert 'data-testid="dashboard-notices"' in home.text and REASON in home.text
    assert f'action="/notices/{notice_id}/acknowledge"' in home.text
    assert 'data-testid="dashboard-notices"' not in html(api, world.petrov, "/").text

    board = html(api, world.support, "/deliveries")
    section = board.text.split('data-testid="notices-unacknowledged"')[1].split("</section>")[0]
    assert 'data-org="romashka"' in section and 'data-org="vector"' not in section

    # Another organisation's customer: as missing; second line: may not acknowledge for the customer.
    assert api.post(world.petrov, f"/api/v1/notices/{notice_id}/acknowledge").status_code == 404
    assert api.post(world.petrov, "/api/v1/notices/999999/acknowledge").status_code == 404
    assert api.post(world.support, f"/api/v1/notices/{notice_id}/acknowledge").status_code == 403
    assert html(api, world.petrov, f"/notices/{notice_id}/acknowledge").status_code in (404, 405)

    r = api.post(world.ivanova, f"/api/v1/notices/{notice_id}/acknowledge")
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "ivanova"
    with db.session_scope(write=False) as s:
        row = s.scalar(select(Delivery).where(Delivery.package_id == OLD, Delivery.organization_id == world.romashka.id))
        assert row.status == "withdrawal_acknowledged"
        kinds = [e.kind for e in ledger.events_of(s, package_id=OLD, organization_id=world.romashka.id)]
        assert kinds[-2:] == ["withdrawal_notified", "withdrawal_acknowledged"]
        assert [a.action for a in audit.query(s, object_type="package_notice")] == ["notice.acknowledged",
                                                                                   "notice.sent"]
        assert list(ledger.verify(s)) == []
    board = html(api, world.support, "/deliveries")
    section = board.text.split('data-testid="notices-unacknowledged"')[1].split("</section>")[0]
    assert 'data-org="romashka"' not in section
    assert "Все уведомления об отзыве пакетов подтверждены" in section
    assert 'data-testid="dashboard-notices"' not in html(api, world.ivanova, "/").text
    # Acknowledged again: nothing changes (a second click, a retried request).
    again = api.post(world.ivanova, f"/api/v1/notices/{notice_id}/acknowledge").json()
    assert again["acknowledged_at"] == r.json()["acknowledged_at"]


def test_acknowledge_button_on_the_package_page_over_http(api, db, settings, world, published):
    download(api, world.ivanova, OLD)
    assert downloads_logged(db)
    api.post(world.support, f"/api/v1/packages/{OLD}/withdraw", json={"reason": REASON})
    page = html(api, world.ivanova, f"/packages/{OLD}")
    assert 'data-testid="notice"' in page.text and REASON in page.text
    assert "пакет отозван — подтвердите, что получили уведомление" in page.text
    assert 'data-testid="notice"' not in html(api, world.petrov, f"/packages/{OLD}").text


def test_second_line_is_reminded_on_working_days_until_acknowledged(api, db, settings, smtp, world, published):
    download(api, world.ivanova, OLD)
    assert downloads_logged(db)
    api.post(world.support, f"/api/v1/packages/{OLD}/withdraw", json={"reason": REASON})
    with db.session_scope(write=False) as s:
        notice = s.scalar(select(PackageNotice))
        first_day, created = notice.next_reminder_on, notice.created_at
    assert first_day > created.date()
    with db.session_scope() as s:  # the day before: nothing due
        assert notices.remind(session=s, settings=settings,
                              now=dt.datetime.combine(first_day, dt.time(6), dt.UTC) - dt.timedelta(days=1)) == 0
    due = dt.datetime.combine(first_day, dt.time(9), dt.UTC)
    with db.session_scope() as s:
        assert notices.remind(session=s, settings=settings, now=due) == 1
    with db.session_scope() as s:  # the same day again: reminded already
        assert notices.remind(session=s, settings=settings, now=due + dt.timedelta(hours=1)) == 0
    deliver(db, settings, now=due + dt.timedelta(hours=1))
    reminders = mail_of(smtp, "не подтвердила уведомление")
    assert [str(m["To"]) for m in reminders] == [world.support.email]
    assert "ООО Ромашка" in text_of(reminders[0]) and REASON in text_of(reminders[0])
    with db.session_scope(write=False) as s:
        notice = s.scalar(select(PackageNotice))
        assert notice.reminders == 1 and notice.next_reminder_on > first_day
        assert notice.next_reminder_on.weekday() < 5  # the SLA calendar's working day
    notice_id = api.get(world.ivanova, "/api/v1/notices").json()[0]["id"]
    api.post(world.ivanova, f"/api/v1/notices/{notice_id}/acknowledge")
    with db.session_scope() as s:
        assert notices.remind(session=s, settings=settings, now=due + dt.timedelta(days=30)) == 0


def test_replacement_tells_only_holders_and_the_pages_link_both_ways(api, db, settings, smtp, world, published):
    download(api, world.ivanova, OLD)
    assert downloads_logged(db)
    smtp.capture.messages.clear()
    # Refused: unknown, itself, a draft — each under the field, nothing created.
    for wrong, words in (("primoart-0.0.0-none", "нет"), (NEW, "сам себя")):
        r = api.client.get(f"/packages/new/check?id={NEW}&supersedes={wrong}", headers=api.headers(world.support))
        assert words in r.json()["errors"]["supersedes"], r.json()
    create(db, settings, world.support, package_id="primoart-draft", orgs=["all"])
    r = api.client.get(f"/packages/new/check?id={NEW}&supersedes=primoart-draft", headers=api.headers(world.support))
    assert "не опубликован" in r.json()["errors"]["supersedes"]

    files = [("file", (f"{NEW}.tar.gz", b"hf4 bytes\n" * 50, "application/gzip"))]
    data = {"id": NEW, "title": "Исправление импорта", "version": "5.2.1-hf4", "organizations": "all",
            "supersedes": OLD}
    r = api.client.post("/api/v1/packages", files=files, data=data, headers=api.headers(world.support))
    assert r.status_code == 201, r.text
    assert r.json()["supersedes"] == OLD
    assert api.post(world.support, f"/api/v1/packages/{NEW}/publish").status_code == 200

    deliver(db, settings)
    replaced = mail_of(smtp, "заменён")
    assert [str(m["To"]) for m in replaced] == [world.ivanova.email]
    assert NEW in text_of(replaced[0]) and "АО Вектор" not in text_of(replaced[0])
    assert [n["kind"] for n in api.get(world.ivanova, "/api/v1/notices").json()] == ["superseded"]
    assert api.get(world.petrov, "/api/v1/notices").json() == []

    old_page, new_page = html(api, world.petrov, f"/packages/{OLD}"), html(api, world.petrov, f"/packages/{NEW}")
    assert 'data-testid="replaced-by"' in old_page.text and f'href="/packages/{NEW}"' in old_page.text
    assert 'data-testid="supersedes"' in new_page.text and f'href="/packages/{OLD}"' in new_page.text
    assert api.get(world.petrov, f"/api/v1/packages/{OLD}").json()["superseded_by"] == [NEW]

    # Withdrawn afterwards: the notice says what to install instead.
    api.post(world.support, f"/api/v1/packages/{OLD}/withdraw", json={"reason": REASON})
    deliver(db, settings)
    withdrawn = mail_of(smtp, "отозван")
    assert [str(m["To"]) for m in withdrawn] == [world.ivanova.email]
    assert f"Вместо него установите пакет {NEW}" in text_of(withdrawn[0])
    own = [n for n in api.get(world.ivanova, "/api/v1/notices").json() if n["kind"] == "withdrawn"]
    assert own[0]["replacement"] == NEW
    # The dashboard shows the withdrawal notice only (it names the replacement); acknowledging it covers both.
    home = html(api, world.ivanova, "/").text
    assert home.count('data-testid="notice"') == 1 and 'data-kind="withdrawn"' in home
    assert api.post(world.ivanova, f"/api/v1/notices/{own[0]['id']}/acknowledge").status_code == 200
    assert api.get(world.ivanova, "/api/v1/notices?open=true").json() == []


def test_a_chain_of_replacements_cannot_come_back(db, settings, world, published):
    create(db, settings, world.support, package_id=NEW, orgs=["all"], publish=True)
    with db.session_scope() as s:
        s.get(Package, NEW).supersedes_id = OLD
    with db.session_scope(write=False) as s:
        assert supersede.check(s, package_id=NEW, supersedes=OLD) is None
        wrong = supersede.check(s, package_id=OLD, supersedes=NEW)
        assert wrong is not None and "по кругу" in str(wrong)


def test_withdrawal_cut_off_after_git_gets_its_notices_once_from_the_reconciliation(api, db, settings, world,
                                                                                      published):
    from tests.releases.test_crash_consistency import in_child

    download(api, world.ivanova, OLD)
    assert downloads_logged(db)

    def work():
        child = Database(settings)
        with child.session_scope() as s:
            from portal.releases import service

            service.withdraw_package(session=s, settings=settings, actor=load(s, world.support), package_id=OLD,
                                     reason=REASON)

    assert in_child("package.withdraw.after_git_commit", work) == 137
    with db.session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(PackageNotice)) == 0
        assert s.get(Package, OLD).status == "published"
    fresh = Database(settings)
    try:
        housekeeping.on_start(settings, fresh)
        housekeeping.on_start(settings, fresh)  # a second start finds nothing more to do
    finally:
        fresh.dispose()
    with db.session_scope(write=False) as s:
        rows = list(s.scalars(select(PackageNotice)))
        assert [(n.organization_id, n.kind) for n in rows] == [(world.romashka.id, NoticeKind.withdrawn.value)]
        assert [a.details.get("recovered") for a in audit.query(s, action="notice.sent")] == [True]
        assert s.scalar(select(func.count()).select_from(intents.Intent).where(
            intents.Intent.status == intents.PENDING)) == 0


@pytest.fixture(autouse=True)
def _no_fault_armed():
    assert "PORTAL_FAULT_POINT" not in os.environ
    yield


def test_cli_upload_supersedes_and_withdraw_tells_holders(api, db, settings, smtp, world, published, tmp_path,
                                                          monkeypatch):
    """`portal package upload --supersedes` refuses an unknown package with the field's message, and a replacement
    published from the command line tells only the old package's holders; `withdraw` tells them too."""
    from typer.testing import CliRunner

    from portal.cli import app

    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("PORTAL_SMTP_URL", smtp.url)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    download(api, world.ivanova, OLD)
    assert downloads_logged(db)
    archive = tmp_path / f"{NEW}.tar.gz"
    archive.write_bytes(b"hf4" * 1000)
    common = ["package", "upload", str(archive), "--id", NEW, "--title", "Исправление импорта", "--version",
              "5.2.1-hf4", "--org", "all"]
    refused = runner.invoke(app, [*common, "--supersedes", "primoart-9.9.9"])
    assert refused.exit_code != 0 and "primoart-9.9.9" in refused.output and "нет" in refused.output
    made = runner.invoke(app, [*common, "--supersedes", OLD, "--publish"])
    assert made.exit_code == 0, made.output
    withdrawn = runner.invoke(app, ["package", "withdraw", OLD, "--reason", REASON])
    assert withdrawn.exit_code == 0, withdrawn.output
    with db.session_scope(write=False) as s:
        rows = sorted((n.organization_id, n.kind, n.replacement_id) for n in s.scalars(select(PackageNotice)))
    assert rows == [(world.romashka.id, "superseded", NEW), (world.romashka.id, "withdrawn", NEW)]


def test_a_replacement_not_offered_to_a_holder_is_never_named_to_it(api, db, settings, smtp, world, published):
    download(api, world.ivanova, OLD)
    download(api, world.petrov, OLD)
    assert downloads_logged(db, 2)
    with db.session_scope() as s:
        assert {d.organization.slug for d in s.scalars(select(Delivery).where(Delivery.package_id == OLD))
                if d.status == "downloaded"} == {"romashka", "vector"}
    files = [("file", (f"{NEW}.tar.gz", b"hf4 bytes\n" * 50, "application/gzip"))]
    data = {"id": NEW, "title": "Исправление только для Вектора", "version": "5.2.1-hf4", "organizations": "vector",
            "supersedes": OLD}
    assert api.client.post("/api/v1/packages", files=files, data=data,
                           headers=api.headers(world.support)).status_code == 201
    assert api.post(world.support, f"/api/v1/packages/{NEW}/publish").status_code == 200
    api.post(world.support, f"/api/v1/packages/{OLD}/withdraw", json={"reason": REASON})
    deliver(db, settings)

    assert [n["kind"] for n in api.get(world.ivanova, "/api/v1/notices").json()] == ["withdrawn"]
    assert api.get(world.ivanova, "/api/v1/notices").json()[0]["replacement"] is None
    assert {n["kind"]: n["replacement"] for n in api.get(world.petrov, "/api/v1/notices").json()} == \
        {"withdrawn": NEW, "superseded": NEW}
    for m in smtp.to(world.ivanova.email):
        assert NEW not in text_of(m) and NEW not in str(m["Subject"]) and "Вектор" not in text_of(m)
    assert "Замены пока нет" in html(api, world.ivanova, "/").text
    assert NEW not in html(api, world.ivanova, f"/packages/{OLD}").text
    assert api.get(world.ivanova, f"/api/v1/packages/{OLD}").json()["superseded_by"] == []

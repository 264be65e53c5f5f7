"""The portal's own words in a ticket's history are stored in Russian and read in the reader's language on the
ticket page: a reminder of requested information, the regulation's reason of a deferral (over HTTP)."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import update

from portal.accounts.models import User
from portal.notify import service as notify
from portal.tickets import service as tickets
from tests.accounts.test_pages import login
from tests.notify.helpers import act, register, user_in
from tests.tickets.helpers import catalogue


def _history(client, ticket_id: str) -> str:
    html = client.get(f"/tickets/{ticket_id}", headers={"accept": "text/html"}).text
    found = re.search(r'<ul class="timeline" data-testid="history">(.*?)</ul>', html, re.S)
    assert found, html[:1000]
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_a_reminder_and_a_deferral_read_in_the_readers_language(client, make, db, settings):
    catalogue(db)
    org = make.org("acme", "Acme Ltd")
    john = make.user("customer", org, username="john", email="john@acme.example", full_name="John Smith")
    make.user("customer", org, username="anna", email="anna@acme.example", full_name="Анна")
    support = make.user("support", username="kate")
    with db.session_scope() as s:
        s.execute(update(User).where(User.id == john.id).values(language="en"))
    waiting = register(db, settings, john, summary="No data")
    act(db, waiting, tickets.change_status, support, settings=settings, status="awaiting_info",
        comment="Please send the agent log")
    with db.session_scope() as s:  # the reminder job, on a day after the reminder date
        assert notify.send_reminders(session=s, settings=settings,
                                     now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)) == 1
    deferred = register(db, settings, john, summary="Old version")
    act(db, deferred, tickets.change_status, support, settings=settings, status="deferred",
        reason="unsupported_version")

    login(client, "john")
    english = _history(client, waiting) + " " + _history(client, deferred)
    assert "The customer was reminded of the information requested." in english
    assert "the product version is outdated and no longer supported" in english
    assert not re.search("[А-Яа-яЁё]", english.replace("Анна", "")), english

    client.cookies.clear()
    login(client, "anna")
    russian = _history(client, waiting) + " " + _history(client, deferred)
    assert "Заказчику отправлено напоминание о запрошенной информации." in russian
    assert "версия Продукта является устаревшей и больше не поддерживается" in russian
    with db.session_scope(write=False) as s:  # what is stored stays the Russian words
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=waiting)
        assert any(e.comment == "Заказчику отправлено напоминание о запрошенной информации."
                   for e in tickets.history(session=s, ticket=ticket, user=user_in(s, support)))


def test_a_fix_package_published_and_withdrawn_reads_in_the_readers_language(client, make, db, settings,
                                                                              content_repo):
    from portal.releases import service as releases
    from tests.releases.conftest import create, load

    catalogue(db)
    org = make.org("acme", "Acme Ltd")
    john = make.user("customer", org, username="john", email="john@acme.example", full_name="John Smith")
    support = make.user("support", username="kate")
    with db.session_scope() as s:
        s.execute(update(User).where(User.id == john.id).values(language="en"))
    ticket = register(db, settings, john, summary="Export fails")
    pid = create(db, settings, support, tickets=[ticket], orgs=["acme"], publish=True, title="Export fix <b>1</b>")
    with db.session_scope() as s:
        releases.withdraw_package(session=s, settings=settings, actor=load(s, support), package_id=pid,
                                  reason="Breaks the import <script>x</script>")
    login(client, "john")
    history = html.unescape(_history(client, ticket))  # tags stripped, then the escaped text read back
    assert f"Fix package {pid} «Export fix <b>1</b>» was published." in history  # the tags as text, escaped
    assert f"Fix package {pid} was withdrawn: Breaks the import <script>x</script>" in history
    assert "Опубликован" not in history and "отозван" not in history
    page = client.get(f"/tickets/{ticket}", headers={"accept": "text/html"}).text
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_an_article_published_for_a_ticket_reads_in_the_readers_language(client, make, db, settings):
    from portal.knowledge import tickets_link
    from tests.releases.conftest import load

    catalogue(db)
    org = make.org("acme", "Acme Ltd")
    john = make.user("customer", org, username="john", email="john@acme.example", full_name="John Smith")
    writer = make.user("writer", username="wendy")
    with db.session_scope() as s:
        s.execute(update(User).where(User.id == john.id).values(language="en"))
    ticket = register(db, settings, john, summary="Export fails")
    with db.session_scope() as s:
        assert tickets_link.record_stage(session=s, actor=load(s, writer), tickets=[ticket], title="Export <i>fix</i>",
                                         slug="export-fix", commit="0" * 40, visibility="customers") == [ticket]
    login(client, "john")
    history = html.unescape(_history(client, ticket))
    assert "Knowledge base article «Export <i>fix</i>» was published." in history
    assert "Опубликована" not in history

"""A ticket made from an e-mail names its contact once on the ticket page, whatever the message gave: a sender
without a display name (the address is the only name there is), or name and address in one «Контакт:» line."""

from __future__ import annotations

import datetime as dt
import re

from portal.notify import intake
from portal.notify.models import IntakeMessage
from tests.accounts.test_pages import csrf_of, login
from tests.notify.test_intake import mail
from tests.tickets.helpers import catalogue


def _contact_on_page(client, ticket_id: str) -> str:
    html = client.get(f"/tickets/{ticket_id}", headers={"accept": "text/html"}).text
    found = re.search(r'<dd data-testid="ticket-contact">(.*?)</dd>', html, re.S)
    assert found, html[:2000]
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def _assigned(client, db, settings, sender: str, body: str) -> str:
    raw = mail(sender, "Не работает синтетика", body)
    with db.session_scope() as s:
        held = intake.process(session=s, settings=settings, raw=raw, now=dt.datetime.now(dt.UTC)).id
    csrf = csrf_of(client.get(f"/intake/{held}").text)
    r = client.post(f"/intake/{held}/assign", data={"csrf_token": csrf, "organization": "romashka"})
    assert r.status_code == 303, r.text[:500]
    with db.session_scope(write=False) as s:
        return s.get(IntakeMessage, held).ticket_id


def test_an_assigned_e_mail_names_its_sender_once(client, make, db, settings):
    catalogue(db)
    make.user("support", username="sergey")
    make.org("romashka", "ООО Ромашка")
    login(client, "sergey")
    body = "Модуль: RUM-агент\nВерсия: 5.2\nШаги:\n1. Запустить сценарий\n\nСценарий падает."
    bare = _assigned(client, db, settings, "stranger@romashka.example", body)
    assert _contact_on_page(client, bare) == "stranger@romashka.example"
    in_one_line = _assigned(client, db, settings, "office@romashka.example",
                            "Контакт: Олег Сидоров, oleg@romashka.example, +7 495 123-45-67\n" + body)
    shown = _contact_on_page(client, in_one_line)
    assert shown.count("oleg@romashka.example") == 1 and shown.count("+7 495 123-45-67") == 1, shown
    assert shown.startswith("Олег Сидоров"), shown

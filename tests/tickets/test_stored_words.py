"""Texts the portal writes into a ticket itself: the summary of a request without one is in its requester's
language; the information request it writes for a request lacking the regulation's fields is stored in Russian (the
record of what was asked) and read in each reader's language on the ticket page and the customer's home — older rows
worded the same too; a question a person typed is shown as typed."""

from __future__ import annotations

import html
import re

from sqlalchemy import select, update

from portal.tickets import service as tickets
from portal.accounts.models import User
from portal.policy import SystemActor
from portal.tickets import info_request
from portal.tickets.models import Ticket

CYRILLIC = re.compile("[А-Яа-яЁё]")
HEADER_RU = "Для регистрации обращения по регламенту не хватает сведений:"
HEADER_EN = "The regulation's details needed to register this request are missing:"


def _register_by_mail(db, settings, customer) -> str:
    """What e-mail intake does with a message without subject and without the regulation's fields."""
    with db.session_scope() as s:
        actor = SystemActor.intake(on_behalf_of=s.get(User, customer.id))
        ticket = tickets.register(session=s, settings=settings, actor=actor, incomplete=True, channel="email",
                                  data=tickets.TicketInput(kind="problem", summary="", description="Всё сломалось",
                                                           contact_email=customer.email, contact_name="J. Smith"))
        return ticket.id


def _two_requests(db, settings, make):
    """John (English) and Ivan (Russian) of one organisation, each with such a request: (john, ivan, john's ticket,
    ivan's ticket)."""
    org = make.org("acme", "Acme Ltd")
    john = make.user("customer", org, username="john", email="john@acme.example")
    ivan = make.user("customer", org, username="ivan", email="ivan@acme.example")
    with db.session_scope() as s:
        s.execute(update(User).where(User.id == john.id).values(language="en"))
    return john, ivan, _register_by_mail(db, settings, john), _register_by_mail(db, settings, ivan)


def _alert(page: str) -> str:
    found = re.search(r'data-testid="awaiting-info">(.*?)</div>', page, re.S)
    assert found, page[:2000]
    return html.unescape(found.group(1))


def test_a_request_without_subject_and_fields_reads_in_each_readers_language(db, settings, make, api):
    john, ivan, english_id, russian_id = _two_requests(db, settings, make)

    with db.session_scope(write=False) as s:
        english, russian = s.get(Ticket, english_id), s.get(Ticket, russian_id)
        assert english.summary == "(no subject)" and russian.summary == "(без темы)"
        assert english.status == russian.status == "awaiting_info"
        # the record of what was asked stays Russian, whoever the requester (the API's question, the reminders)
        assert english.info_request.startswith(HEADER_RU + "\n• ")
        assert "• Модуль: " in english.info_request
        stored = english.info_request

    en_page = api.get(john, f"/tickets/{english_id}")
    assert en_page.status_code == 200
    alert = _alert(en_page.text)
    assert HEADER_EN in alert and "• Module: " in alert, alert
    assert not CYRILLIC.search(alert), alert
    en_home = html.unescape(api.get(john, "/").text)
    assert HEADER_EN in en_home and HEADER_RU not in en_home

    ru_alert = _alert(api.get(ivan, f"/tickets/{russian_id}").text)
    assert HEADER_RU in ru_alert and "• Модуль: " in ru_alert

    # The same stored words (an older row) read the same way; a person's own question is left as typed.
    assert info_request.in_language(stored, "en").startswith(HEADER_EN + "\n• ")
    assert info_request.in_language(stored, "ru") == stored
    assert info_request.in_language("Пришлите HAR-файл", "en") == "Пришлите HAR-файл"
    odd = HEADER_RU + "\n• Неизвестное поле: что-то\nпросто строка"
    assert info_request.in_language(odd, "en") == HEADER_EN + "\n• Неизвестное поле: что-то\nпросто строка"



def test_the_reminder_e_mail_reads_the_request_in_its_recipients_language(db, settings, make):
    import datetime as dt

    from portal.notify import service as notify
    from portal.notify.models import OutboxMessage

    john, ivan, english_id, russian_id = _two_requests(db, settings, make)
    with db.session_scope() as s:
        assert notify.send_reminders(session=s, settings=settings,
                                     now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)) == 2
    with db.session_scope(write=False) as s:
        sent = {(m.recipient, m.ticket_id): m for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "info_reminder"))}
        english = sent[("john@acme.example", english_id)]
        russian = sent[("ivan@acme.example", russian_id)]
        assert HEADER_EN in english.body_text and "• Module: " in english.body_text, english.body_text
        assert HEADER_RU not in english.body_text and "Модуль" not in english.body_text
        assert HEADER_EN.replace("'", "&#39;") in english.body_html
        assert HEADER_RU in russian.body_text and "• Модуль: " in russian.body_text


def _mail(sender: str, subject: str, body: str) -> bytes:
    from email.message import EmailMessage
    from email.utils import make_msgid

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@primoart.example", subject
    msg["Message-ID"] = make_msgid(domain="customer.example")
    msg.set_content(body)
    return msg.as_bytes()


def test_e_mail_intake_words_its_reasons_for_the_reader_and_an_empty_reply_for_its_sender(db, settings, make,
                                                                                           api):
    from portal.notify import intake
    from portal.tickets.models import TicketEvent

    org = make.org("acme", "Acme Ltd")
    john = make.user("customer", org, username="john", email="john@acme.example")
    kate, sergey = make.user("support", username="kate"), make.user("support", username="sergey")
    with db.session_scope() as s:
        s.execute(update(User).where(User.id.in_([john.id, kate.id])).values(language="en"))
    tid = _register_by_mail(db, settings, john)
    with db.session_scope() as s:
        held = intake.process(session=s, settings=settings, raw=_mail("stranger@nowhere.example", "Помогите",
                                                                      "Ничего не работает"))
        reply = intake.process(session=s, settings=settings, raw=_mail("john@acme.example", f"Re: [{tid}] x", ""))
        held_id, reply_status = held.id, reply.status
        assert held.reason == "отправитель не найден среди пользователей заказчиков: определите организацию"
    assert reply_status == "comment"
    with db.session_scope(write=False) as s:
        comment = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid,
                                                      TicketEvent.kind == "comment")).one()
        assert comment.comment == "(message without text)"  # in the words of John, who sent it

    en = html.unescape(api.get(kate, f"/intake/{held_id}").text)
    ru = html.unescape(api.get(sergey, f"/intake/{held_id}").text)
    assert "the sender is not among the customers' users: choose the organisation" in en
    assert "не найден среди пользователей заказчиков" not in en
    assert "отправитель не найден среди пользователей заказчиков: определите организацию" in ru
    listing = html.unescape(api.get(kate, "/intake").text)
    assert "the sender is not among the customers' users" in listing

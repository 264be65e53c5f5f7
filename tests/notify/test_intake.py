"""E-mail intake against a real dovecot over IMAPS: new message, reply, unknown sender, missing fields."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from portal.notify import intake
from portal.notify.models import IntakeMessage
from portal.tickets import service as tickets
from portal.tickets.models import Ticket, TicketAttachment, TicketEvent
from tests.notify.conftest import open_database, text_of
from tests.notify.helpers import deliver, user_in

COMPLETE = """Здравствуйте!

После обновления Chrome агент перестал отправлять данные в дашборд.

Модуль: rum-агент
Версия: 5.2
Шаги:
1. Открыть страницу магазина.
2. Подождать 5 минут.
3. Данных в дашборде нет.

Телефон: +7 495 123-45-67
"""


def mail(sender: str, subject: str, body: str, *, name: str = "", attachment: bytes | None = None,
         headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = "support@primoart.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="customer.example")
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="text", subtype="plain", filename="agent.log")
    return msg.as_bytes()


@pytest.fixture
def intake_settings(mail_settings, mailbox):
    return mail_settings.model_copy(update={"imap_url": mailbox.url, "mail_ca_file": mailbox.cert})


@pytest.fixture
def intake_db(intake_settings):
    yield from open_database(intake_settings)


@pytest.fixture
def people(make, intake_db):
    from tests.tickets.helpers import catalogue

    catalogue(intake_db)
    romashka, vector = make.org("romashka", "ООО Ромашка"), make.org("vector", "АО Вектор")
    return {
        "anna": make.user("customer", romashka, username="anna", email="Anna@Romashka.example",
                          full_name="Анна Иванова"),
        "petr": make.user("customer", vector, username="petr", email="petr@vector.example"),
        "support": make.user("support", username="sergey", email="sergey@primoart.example"),
        "romashka": romashka, "vector": vector,
    }


def _poll(db, settings):
    return intake.poll(settings=settings, db=db, now=dt.datetime.now(dt.UTC))


def test_new_message_from_a_customer_becomes_a_ticket_and_the_answer_gives_its_id(
        intake_db, intake_settings, mailbox, people, smtp):
    db, settings = intake_db, intake_settings
    mailbox.deliver(mail("anna@romashka.example", "Агент RUM не отправляет данные", COMPLETE, name="Анна",
                         attachment=b"2026-12-01 ERROR collector unreachable\n"))
    report = _poll(db, settings)
    assert report.counts == {"ticket": 1} and not report.errors
    with db.session_scope(write=False) as s:
        ticket = s.scalar(select(Ticket))
        assert ticket.organization_id == people["romashka"].id and ticket.channel == "email"
        assert ticket.status == "new" and ticket.module == "RUM-агент" and ticket.product_version == "5.2"
        assert "Данных в дашборде нет" in ticket.steps_to_reproduce
        assert ticket.contact_phone == "+7 495 123-45-67" and ticket.requester_id == people["anna"].id
        assert ticket.summary == "Агент RUM не отправляет данные"
        attachment = s.scalar(select(TicketAttachment))
        assert attachment.filename == "agent.log" and attachment.ticket_id == ticket.id
        tid = ticket.id
    # Polling again processes nothing twice: the mailbox flag and the recorded Message-ID.
    assert _poll(db, settings).seen == 0
    assert all("$PortalProcessed" in f for f in mailbox.flags())
    deliver(db, settings)
    answer = smtp.to("anna@romashka.example")
    assert len(answer) == 1 and tid in answer[0]["Subject"] and tid in text_of(answer[0])
    assert answer[0]["In-Reply-To"].startswith("<") and "не хватает" not in text_of(answer[0])


def test_the_same_message_twice_is_processed_once(intake_db, intake_settings, mailbox, people):
    raw = mail("anna@romashka.example", "Дубль", COMPLETE)
    mailbox.deliver(raw)
    mailbox.deliver(raw)  # the same Message-ID delivered twice (a resend, a second copy)
    report = _poll(intake_db, intake_settings)
    assert report.seen == 2
    with intake_db.session_scope(write=False) as s:
        assert len(list(s.scalars(select(Ticket)))) == 1
        assert len(list(s.scalars(select(IntakeMessage)))) == 1


def test_missing_fields_register_the_ticket_awaiting_information_and_the_answer_lists_them(
        intake_db, intake_settings, mailbox, people, smtp):
    db, settings = intake_db, intake_settings
    mailbox.deliver(mail("anna@romashka.example", "Ничего не работает", "Помогите, всё сломалось."))
    assert _poll(db, settings).counts == {"ticket": 1}
    with db.session_scope(write=False) as s:
        ticket = s.scalar(select(Ticket))
        assert ticket.status == "awaiting_info" and ticket.info_reminder_on is not None
        assert "Модуль" in ticket.info_request and "Версия продукта" in ticket.info_request
        assert "Шаги воспроизведения" in ticket.info_request
        tid = ticket.id
    deliver(db, settings)
    answer = smtp.to("anna@romashka.example")
    assert len(answer) == 1
    text = text_of(answer[0])
    assert tid in text and "не хватает сведений" in text
    assert "Модуль" in text and "Версия продукта" in text and "Шаги воспроизведения" in text
    assert "Описание" not in text.split("не хватает сведений")[1].split("Ответьте")[0]  # the body was given


def test_a_reply_with_the_ticket_id_becomes_a_comment_and_answers_the_request(
        intake_db, intake_settings, mailbox, people, smtp):
    db, settings = intake_db, intake_settings
    with db.session_scope() as s:
        ticket = tickets.register(session=s, settings=settings, actor=user_in(s, people["anna"]),
                                  data=tickets.TicketInput(
                                      kind="problem", module="RUM-агент", product_version="5.2", summary="Нет данных",
                                      description="Нет данных", steps_to_reproduce="Открыть", priority="high"))
        tid = ticket.id
        tickets.change_status(session=s, settings=settings, ticket=ticket, actor=user_in(s, people["support"]),
                              status="awaiting_info", comment="Пришлите журнал")
    reply = "Журнал во вложении.\n\nOn Tue, 1 Dec 2026 Support wrote:\n> Пришлите журнал\n"
    mailbox.deliver(mail("anna@romashka.example", f"Re: [{tid}] Нужна дополнительная информация", reply,
                         attachment=b"log line\n"))
    assert _poll(db, settings).counts == {"comment": 1}
    with db.session_scope(write=False) as s:
        ticket = s.get(Ticket, tid)
        assert ticket.status == "in_analysis"  # the customer's answer moves it back to work
        comment = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == tid, TicketEvent.kind == "comment"))
        assert comment.comment == "Журнал во вложении." and comment.actor_id == people["anna"].id
        assert s.scalar(select(TicketAttachment).where(TicketAttachment.ticket_id == tid)).filename == "agent.log"


def test_a_reply_from_another_organisation_is_held_not_added(intake_db, intake_settings, mailbox, people):
    db, settings = intake_db, intake_settings
    with db.session_scope() as s:
        ticket = tickets.register(session=s, settings=settings, actor=user_in(s, people["anna"]),
                                  data=tickets.TicketInput(
                                      kind="consultation", module="RUM-агент", product_version="5.2", summary="Вопрос",
                                      description="Вопрос", priority="low"))
        tid = ticket.id
    mailbox.deliver(mail("petr@vector.example", f"Re: [{tid}] Вопрос", "Чужой ответ"))
    assert _poll(db, settings).counts == {"held": 1}
    with db.session_scope(write=False) as s:
        assert s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == tid, TicketEvent.kind == "comment")) is None
        held = s.scalar(select(IntakeMessage))
        assert held.status == "held" and tid in held.reason


def test_unknown_sender_is_held_until_second_line_assigns_an_organisation(
        intake_db, intake_settings, mailbox, people, smtp):
    db, settings = intake_db, intake_settings
    mailbox.deliver(mail("new.person@romashka.example", "Вопрос по настройке", COMPLETE, name="Новый Сотрудник"))
    assert _poll(db, settings).counts == {"held": 1}
    with db.session_scope(write=False) as s:
        assert s.scalar(select(Ticket)) is None
        held = intake.list_intake(session=s, user=user_in(s, people["support"]))
        assert [h.sender for h in held] == ["new.person@romashka.example"]
        held_id = held[0].id
        # A customer may not see or assign held mail.
        from portal.errors import Forbidden

        with pytest.raises(Forbidden):
            intake.list_intake(session=s, user=user_in(s, people["anna"]))
    deliver(db, settings)
    assert smtp.to("new.person@romashka.example") == []  # nothing is sent to an unknown sender by itself
    with db.session_scope() as s:
        ticket = intake.assign_held(session=s, settings=settings, actor=user_in(s, people["support"]),
                                    intake_id=held_id, organization="romashka")
        tid = ticket.id
        assert ticket.organization_id == people["romashka"].id and ticket.contact_email == "new.person@romashka.example"
        assert ticket.channel == "email" and ticket.status == "new"
    with db.session_scope(write=False) as s:
        from portal import audit

        assert [e.action for e in audit.query(s, action="intake.")] == ["intake.assign"]
        assert s.get(IntakeMessage, held_id).status == "assigned"
    deliver(db, settings)
    answer = smtp.to("new.person@romashka.example")
    assert len(answer) == 1 and tid in answer[0]["Subject"]


def test_automatic_mail_and_our_own_messages_are_ignored(intake_db, intake_settings, mailbox, people):
    mailbox.deliver(mail("anna@romashka.example", "Автоответ: в отпуске", "Я в отпуске",
                         headers={"Auto-Submitted": "auto-replied"}))
    mailbox.deliver(mail("support@primoart.example", "[PRM-2026-00001] Заявка зарегистрирована", "…"))
    assert _poll(intake_db, intake_settings).counts == {"ignored": 2}
    with intake_db.session_scope(write=False) as s:
        assert s.scalar(select(Ticket)) is None


def test_field_parsing_is_lenient():
    fields = intake.parse_fields("Добрый день.\n\n* модуль : STM\nВЕРСИЯ: v5.2.1 (сборка 77)\n"
                                 "Шаги воспроизведения:\n\n1. раз\n2. два\n\nСпасибо")
    assert (fields.module, fields.version) == ("STM", "5.2.1")
    assert fields.steps == "1. раз\n2. два"
    assert fields.rest == "Добрый день.\n\nСпасибо"


def test_intake_acts_as_itself_for_the_customer_and_registers_through_the_tickets_service(
        mail_db, mail_settings, people):
    """The audit log names intake; the ticket's history names the customer who wrote; the missing fields go
    through tickets.register (awaiting information), not a second registration path."""
    from portal import audit

    with mail_db.session_scope() as s:
        record = intake.process(session=s, settings=mail_settings, raw=mail("anna@romashka.example", "Нет данных",
                                                                               "Агент не отправляет данные."))
        tid = record.ticket_id
    with mail_db.session_scope(write=False) as s:
        ticket = s.get(Ticket, tid)
        assert ticket.status == "awaiting_info" and ticket.channel == "email"
        assert ticket.requester_id == people["anna"].id and ticket.registered_by_id == people["anna"].id
        created = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == tid, TicketEvent.kind == "created"))
        assert created.actor_name == "Анна Иванова" and created.details["channel"] == "email"
        assert created.details["missing"]
        assert [e.actor for e in audit.query(s, action="ticket.created", object_id=tid)] == ["intake"]
    # The reminder job names itself too, and the history says who reminded.
    from portal.notify import service as notify

    with mail_db.session_scope() as s:
        assert notify.send_reminders(session=s, settings=mail_settings,
                                     now=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)) == 1
    with mail_db.session_scope(write=False) as s:
        reminded = audit.query(s, action=f"ticket.{notify.INFO_REMINDER}", object_id=tid)
        assert [e.actor for e in reminded] == ["job:notify.reminders"] and reminded[0].actor_id is None


def test_intake_is_refused_what_the_customer_it_acts_for_would_be(mail_db, mail_settings, people):
    """Intake may register, comment and attach for the customer who wrote — not correct a priority, publish
    an article, or touch another organisation's ticket."""
    from portal.errors import Forbidden, NotFound
    from portal.knowledge import service as knowledge
    from portal.policy import SystemActor

    with mail_db.session_scope() as s:
        tid = intake.process(session=s, settings=mail_settings, raw=mail("anna@romashka.example", "Сбой",
                                                                            COMPLETE)).ticket_id
    anna, petr = people["anna"], people["petr"]
    with mail_db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=tid)
        for customer in (anna, SystemActor.intake(on_behalf_of=anna), SystemActor.intake()):
            with pytest.raises(Forbidden):
                tickets.correct_priority(session=s, settings=mail_settings, ticket=ticket, actor=customer,
                                         priority="critical", reason="срочно")
        with pytest.raises(NotFound):  # another organisation's ticket: not there, as for petr himself
            tickets.add_comment(session=s, settings=mail_settings, ticket=ticket,
                                actor=SystemActor.intake(on_behalf_of=petr), body="чужая заявка")
        with pytest.raises(Forbidden):
            knowledge.publish_article(session=s, settings=mail_settings, actor=SystemActor.intake(), slug="any")

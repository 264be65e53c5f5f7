"""Replies without a ticket number, through the real dovecot and SMTP server: a reply that names one of the portal's
own messages only in In-Reply-To/References lands on its ticket; a reply to a merged duplicate's thread lands on
the original; a reply from another organisation is held, and second line is offered the most similar open ticket
of the sender's organisation («Добавить к PRM-…») — never the other organisation's ticket."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from portal.audit import AuditEntry
from portal.notify.models import IntakeMessage
from portal.search.similar import service as similar
from portal.tickets import merge
from portal.tickets import service as tickets
from portal.tickets.models import Ticket, TicketEvent
from tests.accounts.test_pages import csrf_of, login
from tests.conftest import LiveServer
from tests.factories import PASSWORD
from tests.notify.conftest import text_of
from tests.notify.helpers import deliver, user_in
from tests.notify.test_intake import COMPLETE, _poll, intake_db, intake_settings, mail, people  # noqa: F401


def _comments(db, ticket_id) -> list[str]:
    with db.session_scope(write=False) as s:
        return [e.comment for e in s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                                       TicketEvent.kind == "comment")
                                            .order_by(TicketEvent.id))]


def _registered_by_mail(db, settings, mailbox, smtp, subject: str, body: str = COMPLETE):
    """Anna writes in; the ticket it became and the portal's answer (as her mail client received it)."""
    before = len(smtp.messages)
    mailbox.deliver(mail("anna@romashka.example", subject, body, name="Анна"))
    assert _poll(db, settings).counts == {"ticket": 1}
    deliver(db, settings)
    answer = smtp.to("anna@romashka.example")[-1]
    assert len(smtp.messages) > before
    return answer["X-PrimoART-Ticket"], answer


def _reply(answer, sender: str, body: str, subject: str = "Re: ответ", *, references: bool = True) -> bytes:
    """A reply as a mail client writes it, the ticket number gone from the subject."""
    headers = {"In-Reply-To": answer["Message-ID"]}
    if references:
        headers["References"] = f'{answer.get("References", "")} {answer["Message-ID"]}'.strip()
    return mail(sender, subject, body, headers=headers)


def test_a_reply_naming_our_message_only_in_in_reply_to_lands_on_its_ticket(
        intake_db, intake_settings, mailbox, people, smtp):
    db, settings = intake_db, intake_settings
    ticket_id, answer = _registered_by_mail(db, settings, mailbox, smtp, "Агент RUM не отправляет данные")
    assert ticket_id not in "Re: ответ"
    mailbox.deliver(_reply(answer, "anna@romashka.example", "Версия агента 5.2.1, лог приложила.",
                           references=False))
    assert _poll(db, settings).counts == {"comment": 1}
    assert _comments(db, ticket_id) == ["Версия агента 5.2.1, лог приложила."]
    with db.session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1  # no second ticket was registered


def test_a_reply_to_the_duplicates_thread_lands_on_the_original(intake_db, intake_settings, mailbox, people, smtp):
    db, settings = intake_db, intake_settings
    original, _ = _registered_by_mail(db, settings, mailbox, smtp, "Агент RUM не отправляет данные")
    duplicate, answer = _registered_by_mail(db, settings, mailbox, smtp, "Снова нет данных RUM")
    with db.session_scope() as s:
        merge.merge(session=s, settings=settings, actor=user_in(s, people["support"]), original_id=original,
                    duplicate=tickets.get_ticket_unchecked(session=s, ticket_id=duplicate))
    deliver(db, settings)
    told = [m for m in smtp.to("anna@romashka.example") if m["X-PrimoART-Kind"] == "ticket_merged"]
    assert len(told) == 1 and duplicate in text_of(told[0]) and original in text_of(told[0])

    # Her mail client answers the duplicate's old message: by threading headers only, then with its number.
    mailbox.deliver(_reply(answer, "anna@romashka.example", "Данных всё ещё нет."))
    mailbox.deliver(mail("anna@romashka.example", f"Re: [{duplicate}] Снова нет данных RUM", "И сегодня тоже."))
    assert _poll(db, settings).counts == {"comment": 2}
    assert _comments(db, original)[-2:] == ["Данных всё ещё нет.", "И сегодня тоже."]
    assert _comments(db, duplicate) == []
    with db.session_scope(write=False) as s:
        assert {m.ticket_id for m in s.scalars(select(IntakeMessage).where(IntakeMessage.status == "comment"))} \
            == {original}


@pytest.fixture
def staff_client(intake_settings, content_repo):
    from portal.app import create_app

    server = LiveServer(create_app(intake_settings))
    server.start()
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as client:
        yield client
    server.stop()


def test_a_reply_from_another_organisation_is_held_and_second_line_adds_it_to_the_senders_similar_ticket(
        intake_db, intake_settings, mailbox, people, smtp, staff_client):
    db, settings = intake_db, intake_settings
    romashka_ticket, answer = _registered_by_mail(db, settings, mailbox, smtp, "Агент RUM не отправляет данные")
    # Vector has its own open tickets: one like the message, one not.
    for subject, body in (("Дашборд STM не обновляется", "Графики синтетики стоят с ночи."),
                          ("RUM-агент не отправляет метрики в дашборд", "После обновления Chrome нет данных RUM.")):
        mailbox.deliver(mail("petr@vector.example", subject, body))
    assert _poll(db, settings).counts == {"ticket": 2}
    with db.session_scope(write=False) as s:
        vector_similar = s.scalar(select(Ticket.id).where(Ticket.summary.like("RUM-агент%")))

    # Petr answers Anna's thread (a forwarded message): the thread is found, the organisation does not match.
    mailbox.deliver(_reply(answer, "petr@vector.example", "У нас RUM-агент тоже не отправляет данные после Chrome."))
    assert _poll(db, settings).counts == {"held": 1}
    assert _comments(db, romashka_ticket) == []
    with db.session_scope(write=False) as s:
        held = s.scalar(select(IntakeMessage).where(IntakeMessage.status == "held"))
        held_id = held.id
    similar.catch_up(settings=settings)

    login(staff_client, "sergey")
    page = staff_client.get(f"/intake/{held_id}").text
    offer = re.search(r'data-testid="intake-suggestion">(.*?)</section>', page, re.S).group(1)
    assert "АО Вектор" in offer and f"Добавить к {vector_similar}" in offer
    assert romashka_ticket not in offer and "Ромашка" not in offer  # never the other organisation's ticket
    added = staff_client.post(f"/intake/{held_id}/add", data={"csrf_token": csrf_of(page), "ticket": vector_similar})
    assert added.status_code == 303 and added.headers["location"] == f"/tickets/{vector_similar}"
    assert "У нас RUM-агент тоже не отправляет данные" in _comments(db, vector_similar)[-1]
    assert _comments(db, romashka_ticket) == []
    with db.session_scope(write=False) as s:
        record = s.get(IntakeMessage, held_id)
        assert (record.status, record.ticket_id) == ("comment", vector_similar)
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "intake.add_to_ticket"))
        assert audit.actor == "sergey" and audit.details["ticket"] == vector_similar
    # Adding it to the other organisation's ticket is refused, whatever the form says.
    mailbox.deliver(_reply(answer, "petr@vector.example", "Ещё одно письмо."))
    assert _poll(db, settings).counts == {"held": 1}
    with db.session_scope(write=False) as s:
        second = s.scalar(select(IntakeMessage.id).where(IntakeMessage.status == "held"))
    page = staff_client.get(f"/intake/{second}").text
    refused = staff_client.post(f"/intake/{second}/add", data={"csrf_token": csrf_of(page),
                                                                "ticket": romashka_ticket})
    assert refused.status_code == 409 and "не той организации" in refused.text
    assert _comments(db, romashka_ticket) == []
    # The API does the same for second line, and refuses a customer.
    api = httpx.Client(base_url=staff_client.base_url, timeout=30)  # no page session: bearer tokens only

    def bearer(username):
        token = api.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json()
        return {"Authorization": f"Bearer {token['access_token']}"}

    wrong = api.post(f"/api/v1/intake/{second}/add", json={"ticket": romashka_ticket}, headers=bearer("sergey"))
    assert wrong.status_code == 409 and "не той организации" in wrong.json()["detail"]
    assert api.post(f"/api/v1/intake/{second}/add", json={"ticket": vector_similar},
                    headers=bearer("petr")).status_code == 403
    done = api.post(f"/api/v1/intake/{second}/add", json={"ticket": vector_similar}, headers=bearer("sergey"))
    assert done.status_code == 200 and done.json()["status"] == "comment"
    assert _comments(db, vector_similar)[-1].endswith("Ещё одно письмо.")


def test_a_colleague_without_an_account_is_offered_by_the_mail_domain_of_their_organisation(
        intake_db, intake_settings, mailbox, people, smtp, staff_client):
    db, settings = intake_db, intake_settings
    ticket_id, _ = _registered_by_mail(db, settings, mailbox, smtp, "Агент RUM не отправляет данные")
    mailbox.deliver(mail("olga@romashka.example", "Агент RUM", "Агент RUM не отправляет данные в дашборд."))
    assert _poll(db, settings).counts == {"held": 1}
    similar.catch_up(settings=settings)
    with db.session_scope(write=False) as s:
        held_id = s.scalar(select(IntakeMessage.id).where(IntakeMessage.status == "held"))
    login(staff_client, "sergey")
    page = staff_client.get(f"/intake/{held_id}").text
    assert f"Добавить к {ticket_id}" in page and "ООО Ромашка" in page
    # A domain no organisation's users write from: nothing to offer, the usual choices stay.
    mailbox.deliver(mail("someone@gmail.example", "Вопрос", "Агент RUM не отправляет данные."))
    assert _poll(db, settings).counts == {"held": 1}
    with db.session_scope(write=False) as s:
        stranger = s.scalar(select(IntakeMessage.id).where(IntakeMessage.sender == "someone@gmail.example"))
    page = staff_client.get(f"/intake/{stranger}").text
    assert 'data-testid="intake-suggestion"' not in page and "Добавить к" not in page
    assert 'action="/intake/%d/assign"' % stranger in page

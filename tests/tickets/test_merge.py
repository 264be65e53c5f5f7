"""Merging a duplicate into the original over real HTTP: the check and the confirmation, what moves, the closed
duplicate and its link, one e-mail per person through a real SMTP server, the audit log on both tickets, the
refusals, and another organisation's ticket answered exactly like a number that does not exist."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from portal.audit import AuditEntry
from portal.errors import Conflict
from portal.notify import sender
from portal.notify.models import OutboxMessage
from portal.tickets import merge, service
from portal.tickets.models import Ticket, TicketAttachment, TicketContact, TicketEvent
from tests.accounts.test_pages import csrf_of, login
from tests.notify.conftest import sending_through, smtp, text_of  # noqa: F401 (smtp: the fixture)
from tests.tickets.helpers import catalogue, load_user, register


@pytest.fixture
def settings(settings, smtp):
    return sending_through(settings, smtp)


@pytest.fixture
def people(make, db):
    catalogue(db)
    romashka, vector = make.org("romashka", "ООО Ромашка"), make.org("vector", "АО Вектор")
    return {
        "anna": make.user("customer", romashka, username="anna", email="anna@romashka.example",
                          full_name="Анна Иванова"),
        "boris": make.user("customer", romashka, username="boris", email="boris@romashka.example",
                           full_name="Борис Петров"),
        "petr": make.user("customer", vector, username="petr", email="petr@vector.example"),
        "support": make.user("support", username="sergey", email="sergey@primoart.example"),
        "developer": make.user("developer", username="dev", email="dev@primoart.example"),
    }


def _customer_ticket(db, settings, person, **overrides) -> str:
    return register(db, settings, person, contact_name=person.full_name or person.username,
                    contact_email=person.email, **overrides)


def _comment(db, settings, ticket_id, person, body, public=True):
    with db.session_scope() as s:
        ticket = service.get_ticket_unchecked(session=s, ticket_id=ticket_id)
        service.add_comment(session=s, settings=settings, ticket=ticket, actor=load_user(s, person), body=body,
                            public=public)


def _attach(db, settings, ticket_id, person, name, data):
    with db.session_scope() as s:
        ticket = service.get_ticket_unchecked(session=s, ticket_id=ticket_id)
        service.add_attachment(session=s, settings=settings, ticket=ticket, actor=load_user(s, person),
                               filename=name, stream=io.BytesIO(data), content_type="text/plain")


def _send_all(db, settings):
    return sender.deliver_due(settings=settings, db=db, owner="test", now=dt.datetime.now(dt.UTC))


def _error(html: str) -> str:
    found = re.search(r'class="field-error"[^>]*>([^<]*)<', html)
    return found.group(1).strip() if found else ""


@pytest.fixture
def two_tickets(db, settings, people):
    """Anna's original and Boris's duplicate of it (a comment from each side, an internal note, a file), and a
    ticket of another organisation that says word for word the same."""
    original = _customer_ticket(db, settings, people["anna"], summary="Агент RUM не отправляет данные")
    duplicate = _customer_ticket(db, settings, people["boris"], summary="RUM-агент молчит после обновления",
                                 description="Дашборд пуст с утра, агент не шлёт метрики.",
                                 contact_phone="+7 495 000-00-01")
    other = _customer_ticket(db, settings, people["petr"], summary="Агент RUM не отправляет данные")
    _comment(db, settings, duplicate, people["boris"], "Прикладываю лог агента.")
    _comment(db, settings, duplicate, people["support"], "Похоже на дубль PRM — проверить.", public=False)
    _attach(db, settings, duplicate, people["boris"], "agent.log", b"ERROR collector unreachable\n")
    _send_all(db, settings)  # the registrations' messages go out before the merge
    return {"original": original, "duplicate": duplicate, "other": other}


def test_merge_asks_for_confirmation_then_moves_closes_links_audits_and_tells_each_customer_once(
        client, db, settings, people, two_tickets, smtp):
    original, duplicate = two_tickets["original"], two_tickets["duplicate"]
    login(client, "sergey")
    page = client.get(f"/tickets/{duplicate}").text
    assert f'href="/tickets/{duplicate}/merge"' in page
    form = client.get(f"/tickets/{duplicate}/merge").text
    assert 'data-testid="merge-form"' in form and original in form  # offered among the organisation's open ones
    assert two_tickets["other"] not in form  # never another organisation's ticket

    # First the confirmation: what moves, who is told; nothing has changed yet.
    csrf = csrf_of(form)
    confirm = client.post(f"/tickets/{duplicate}/merge", data={"csrf_token": csrf, "into": original.lower(),
                                                                "comment": "Это та же проблема."})
    assert confirm.status_code == 200 and 'data-testid="confirm"' in confirm.text
    assert f"Объединить {duplicate} с {original}?" in confirm.text
    assert "Комментариев перейдёт в" in confirm.text and "«agent.log»" in confirm.text
    assert "boris@romashka.example" in confirm.text and 'name="confirmed" value="true"' in confirm.text
    with db.session_scope(write=False) as s:
        assert s.get(Ticket, duplicate).is_open and s.get(Ticket, duplicate).merged_into_id is None
    mails_before = len(smtp.messages)

    done = client.post(f"/tickets/{duplicate}/merge", data={"csrf_token": csrf, "into": original,
                                                             "comment": "Это та же проблема.", "confirmed": "true"})
    assert done.status_code == 303 and done.headers["location"] == f"/tickets/{original}"
    with db.session_scope(write=False) as s:
        dup, orig = s.get(Ticket, duplicate), s.get(Ticket, original)
        assert dup.status == "closed" and not dup.is_open and dup.merged_into_id == original
        assert orig.is_open and orig.merged_into_id is None
        moved = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == original,
                                                         TicketEvent.kind == "comment")))
        assert {e.comment for e in moved} == {"Прикладываю лог агента.", "Похоже на дубль PRM — проверить."}
        assert all(e.details["merged_from"] == duplicate for e in moved)
        assert [e.public for e in moved if "дубль" in e.comment] == [False]  # an internal note stays internal
        assert s.scalar(select(TicketAttachment.ticket_id).where(TicketAttachment.filename == "agent.log")) == original
        contacts = list(s.scalars(select(TicketContact).where(TicketContact.ticket_id == original)))
        assert [(c.email, c.phone, c.from_ticket_id) for c in contacts] == [
            ("boris@romashka.example", "+7 495 000-00-01", duplicate)]
        merged = s.scalar(select(TicketEvent).where(TicketEvent.ticket_id == original, TicketEvent.kind == "merged"))
        assert "Дашборд пуст с утра" in merged.comment  # what the customer wrote in the duplicate is kept
        audited = {(a.action, a.object_id) for a in s.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(("ticket.merged", "ticket.merged_into"))))}
        assert audited == {("ticket.merged", original), ("ticket.merged_into", duplicate)}
        assert all(a.actor == "sergey" for a in s.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(("ticket.merged", "ticket.merged_into")))))
        kinds = [m.kind for m in s.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))]
    assert sorted(kinds) == ["ticket_merged", "ticket_merged"]  # one each, nothing else (no «closed» mail)

    report = _send_all(db, settings)
    assert report.sent == 2
    new = smtp.messages[mails_before:]
    assert sorted(str(m["To"]) for m in new) == ["anna@romashka.example", "boris@romashka.example"]
    for message in new:
        assert message["Subject"] == f"[{original}] Заявка {duplicate} объединена с заявкой {original}"
        assert f"https://support.example.test/tickets/{original}" in text_of(message)
        assert f"<ticket.{duplicate.lower()}@primoart.example>" in message["In-Reply-To"]
        assert "АО Вектор" not in text_of(message) and two_tickets["other"] not in text_of(message)

    # The original says what was merged into it; the duplicate links to it; the customer sees both.
    page = client.get(f"/tickets/{original}").text
    assert 'data-testid="merged-from"' in page and f'href="/tickets/{duplicate}"' in page
    assert "Прикладываю лог агента." in page and 'data-testid="extra-contacts"' in page
    login(client, "anna")
    assert f'href="/tickets/{original}"' in client.get(f"/tickets/{duplicate}").text
    assert "Похоже на дубль" not in client.get(f"/tickets/{original}").text  # internal notes stay staff's


def test_refusals_say_what_to_do_and_another_organisation_is_not_found(client, db, settings, people, two_tickets):
    original, duplicate, other = two_tickets["original"], two_tickets["duplicate"], two_tickets["other"]
    login(client, "sergey")
    csrf = csrf_of(client.get(f"/tickets/{duplicate}/merge").text)

    def attempt(into, confirmed=True):
        data = {"csrf_token": csrf, "into": into, **({"confirmed": "true"} if confirmed else {})}
        return client.post(f"/tickets/{duplicate}/merge", data=data, headers={"accept": "text/html"})

    itself = attempt(duplicate)
    assert itself.status_code == 422 and "саму с собой" in itself.text
    assert attempt("").status_code == 422
    # Another organisation's ticket and a number nobody has: the same status and the same words.
    foreign, missing = attempt(other), attempt("PRM-2099-99999")
    assert foreign.status_code == missing.status_code == 404
    assert _error(foreign.text).replace(other, "X") == _error(missing.text).replace("PRM-2099-99999", "X")
    assert "одной организации" in _error(foreign.text) and "Вектор" not in foreign.text
    for first in (False, True):  # neither the check nor the merge itself lets it through
        assert attempt(other, confirmed=first).status_code == 404
    # Into a closed ticket: say why and what to do.
    with db.session_scope() as s:
        for step in ("in_analysis", "resolved", "closed"):
            service.change_status(session=s, settings=settings, ticket=service.get_ticket_unchecked(
                session=s, ticket_id=original), actor=load_user(s, people["support"]), status=step,
                solution="Обновить агент" if step == "resolved" else "")
    closed = attempt(original)
    assert closed.status_code == 409 and "только с открытой заявкой" in closed.text and "Откройте её заново" in closed.text
    with db.session_scope(write=False) as s:
        assert s.get(Ticket, duplicate).is_open and s.get(Ticket, duplicate).merged_into_id is None
        assert s.scalar(select(TicketAttachment.ticket_id)) == duplicate
    # A customer, and third line, may not merge; another organisation's customer does not see the ticket at all.
    login(client, "boris")
    assert client.get(f"/tickets/{duplicate}/merge").status_code == 403
    assert 'data-testid="merge-open"' not in client.get(f"/tickets/{duplicate}").text
    login(client, "dev")
    assert client.get(f"/tickets/{duplicate}/merge").status_code == 403
    login(client, "petr")
    assert client.get(f"/tickets/{duplicate}/merge").status_code == 404


def test_api_merges_and_refuses_like_the_pages(api, db, settings, people, two_tickets):
    original, duplicate, other = two_tickets["original"], two_tickets["duplicate"], two_tickets["other"]
    support = api.headers(people["support"])
    foreign = api.client.post(f"/api/v1/tickets/{duplicate}/merge", json={"into": other}, headers=support)
    missing = api.client.post(f"/api/v1/tickets/{duplicate}/merge", json={"into": "PRM-2099-99999"}, headers=support)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"].replace(other, "X") == missing.json()["detail"].replace("PRM-2099-99999", "X")
    customer = api.client.post(f"/api/v1/tickets/{duplicate}/merge", json={"into": original},
                               headers=api.headers(people["boris"]))
    assert customer.status_code == 403
    r = api.client.post(f"/api/v1/tickets/{duplicate}/merge", json={"into": original, "comment": "Дубль"},
                        headers=support)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == original and r.json()["merged"]["duplicate"] == duplicate
    assert r.json()["merged"]["attachments"] == ["agent.log"]
    again = api.client.post(f"/api/v1/tickets/{duplicate}/merge", json={"into": original}, headers=support)
    assert again.status_code == 409 and f"уже объединена с {original}" in again.json()["detail"]
    # The duplicate takes no more writing: its conversation goes on in the original, and it says where.
    boris = api.headers(people["boris"])
    comment = api.client.post(f"/api/v1/tickets/{duplicate}/comments", json={"body": "Ещё вопрос"}, headers=boris)
    assert comment.status_code == 409 and f"напишите в {original}" in comment.json()["detail"]
    reopen = api.client.post(f"/api/v1/tickets/{duplicate}/status", json={"status": "in_analysis", "reason": "снова"},
                             headers=support)
    assert reopen.status_code == 409 and reopen.json()["merged_into"] == original
    attach = api.client.post(f"/api/v1/tickets/{duplicate}/attachments", headers=boris,
                             files={"file": ("late.log", b"late", "text/plain")})
    assert attach.status_code == 409
    shown = api.client.get(f"/tickets/{duplicate}", headers=boris)
    assert shown.status_code == 200 and 'data-testid="merged-into"' in shown.text
    assert 'data-testid="reply-form"' not in shown.text and "/act/reopen" not in shown.text
    # The original, once merged into, takes further duplicates; the closed duplicate takes none.
    third = _customer_ticket(db, settings, people["anna"], summary="Третья такая же")
    into_closed = api.client.post(f"/api/v1/tickets/{third}/merge", json={"into": duplicate}, headers=support)
    assert into_closed.status_code == 409 and "сама объединена с" in into_closed.json()["detail"]


def test_two_people_merging_two_tickets_into_each_other_at_once_leave_one_merge(db, settings, people, two_tickets):
    """A into B and B into A at the same moment: the second waits for the first's row locks, then is refused —
    never two tickets closed into each other."""
    import threading

    original, duplicate = two_tickets["original"], two_tickets["duplicate"]
    outcome: dict[str, object] = {}

    def the_other_merge():
        try:
            with db.session_scope() as s:
                merge.merge(session=s, settings=settings, actor=load_user(s, people["support"]),
                            duplicate=service.get_ticket_unchecked(session=s, ticket_id=original),
                            original_id=duplicate)
            outcome["second"] = "merged"
        except Conflict as exc:
            outcome["second"] = str(exc.detail)

    with db.session_scope() as s:
        merge.merge(session=s, settings=settings, actor=load_user(s, people["support"]),
                    duplicate=service.get_ticket_unchecked(session=s, ticket_id=duplicate), original_id=original)
        # The other merge starts while this one's transaction is still open, and must wait for it.
        other = threading.Thread(target=the_other_merge)
        other.start()
        other.join(0.5)
        assert other.is_alive() or "second" in outcome
    other.join(60)
    assert outcome["second"] == f"Заявка {duplicate} сама объединена с {original}: укажите {original}."
    with db.session_scope(write=False) as s:
        assert s.get(Ticket, duplicate).merged_into_id == original
        assert s.get(Ticket, original).merged_into_id is None and s.get(Ticket, original).is_open

"""Second line's «awaiting my answer» through the real services and a real database: which tickets wait for the
reader's reply (their open ones whose last public comment is the customer's), the longest waiting first."""

from __future__ import annotations

from sqlalchemy import select

from portal.accounts.models import User
from portal.tickets import worklists
from tests.tickets.helpers import body, catalogue


def test_awaiting_my_answer_is_my_open_tickets_whose_last_public_word_is_the_customers(api, make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"), username="anna")
    make.user("support", username="sergey")
    make.user("support", username="olga")
    ids = [api.post(customer, "/api/v1/tickets", json=body(summary=f"Заявка {n}")).json()["id"] for n in range(7)]
    waits_longest, waits, replied, internal_only, asked, olgas, deferred = ids
    for tid in ids:
        assert api.post("sergey", f"/api/v1/tickets/{tid}/status", json={"status": "in_analysis"}).status_code == 200
        who = "olga" if tid == olgas else "sergey"
        assert api.post("sergey", f"/api/v1/tickets/{tid}/assign", json={"assignee": who}).status_code == 200

    def say(user, tid, text, public=True):
        r = api.post(user, f"/api/v1/tickets/{tid}/comments", json={"body": text, "public": public})
        assert r.status_code == 201, r.text

    say("sergey", waits, "Уточните версию агента")  # staff spoke first; the customer's answer is the last word
    for tid in (waits_longest, waits, replied, internal_only, asked, olgas, deferred):
        say(customer, tid, "Данные так и не появились")
    say("sergey", replied, "Перезапустите агент, пожалуйста")  # answered: nothing waits
    say("sergey", internal_only, "Похоже на ошибку 5.2", public=False)  # the customer has not been answered
    assert api.post("sergey", f"/api/v1/tickets/{asked}/status",
                    json={"status": "awaiting_info", "comment": "Пришлите HAR-файл"}).status_code == 200
    # (asked: the next step is the customer's, so it is not on second line's list)
    assert api.post("sergey", f"/api/v1/tickets/{deferred}/status",
                    json={"status": "deferred", "reason": "cannot_reproduce", "comment": "Не воспроизводится"}
                    ).status_code == 200  # no longer open
    with db.session_scope(write=False) as session:
        sergey = session.scalar(select(User).where(User.username == "sergey"))
        listed = [t.id for t in worklists.awaiting_my_answer(session=session, user=sergey)]
        assert [t.id for t in worklists.awaiting_my_answer(session=session, user=sergey, limit=2)] == listed[:2]
        olga = session.scalar(select(User).where(User.username == "olga"))
        assert [t.id for t in worklists.awaiting_my_answer(session=session, user=olga)] == [olgas]
    assert listed == [waits_longest, waits, internal_only]

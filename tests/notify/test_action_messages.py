"""The administrator's mail and job buttons say what they did and what follows (pages over real HTTP)."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.notify.models import OutboxMessage
from tests.accounts.test_pages import csrf_of, login
from tests.tickets.helpers import body, catalogue


def _flash(page: str) -> str:
    found = re.search(r'data-testid="flash">([^<]*)<', page)
    return found.group(1) if found else ""


def test_retry_and_run_now_say_what_happens_next(client, api, make, db):
    catalogue(db)
    make.user("admin", username="root")
    customer = make.user("customer", email="anna@romashka.example")
    assert api.post(customer, "/api/v1/tickets", json=body()).status_code == 201
    with db.session_scope() as s:
        message = s.scalar(select(OutboxMessage))
        message.status, message.attempts, message.last_error = "failed", 8, "550 no such user"
        message_id, recipient = message.id, message.recipient
    login(client, "root")
    csrf = csrf_of(client.get("/admin/outbox").text)
    r = client.post(f"/admin/outbox/{message_id}/retry", data={"csrf_token": csrf})
    said = _flash(client.get(r.headers["location"]).text)
    assert said.startswith(f"Письмо для {recipient} снова в очереди")
    assert "PORTAL_SMTP_URL" in said  # the test portal sends no mail: the message says it will wait
    r = client.post("/admin/outbox/retry-failed", data={"csrf_token": csrf})
    assert _flash(client.get(r.headers["location"]).text) == "Писем, которые не удалось отправить, нет — повторять нечего."
    r = client.post("/admin/jobs/notify.outbox/run", data={"csrf_token": csrf})
    assert r.status_code == 303
    said = _flash(client.get(r.headers["location"]).text)
    assert "запустится, как только освободится планировщик" in said and "«Отправка писем»" in said
    assert "outbox" not in said
    assert client.post("/admin/jobs/no.such.job/run", data={"csrf_token": csrf},
                       headers={"accept": "text/html"}).status_code == 404

"""Held e-mail on the second line's pages over real HTTP: registering it as a ticket and dismissing it each end
with a message saying what happened and what follows."""

from __future__ import annotations

import datetime as dt

from portal.notify import intake
from tests.accounts.test_pages import csrf_of, login
from tests.notify.test_intake import mail
from tests.tickets.helpers import catalogue
from tests.tickets.test_pages import _flash_after


def _held(db, settings, sender: str, subject: str) -> int:
    raw = mail(sender, subject, "Модуль: RUM-агент\nВерсия: 5.2\nШаги:\n1. Запустить сценарий\n\nСценарий падает.")
    with db.session_scope() as s:
        return intake.process(session=s, settings=settings, raw=raw, now=dt.datetime.now(dt.UTC)).id


def test_assigning_and_dismissing_a_held_message_say_what_happened(client, make, db, settings):
    catalogue(db)
    make.user("support", username="sergey")
    make.org("romashka", "ООО Ромашка")
    assigned = _held(db, settings, "stranger@romashka.example", "Не работает синтетика")
    dismissed = _held(db, settings, "promo@spam.example", "Скидки недели")
    login(client, "sergey")
    csrf = csrf_of(client.get(f"/intake/{assigned}").text)
    text, again = _flash_after(client, f"/intake/{assigned}/assign", {"csrf_token": csrf, "organization": "romashka"})
    assert text is not None and not again
    assert text.startswith("Письмо от stranger@romashka.example зарегистрировано как заявка PRM-")
    assert "организации «ООО Ромашка»" in text and "получит ответ с номером заявки" in text
    assert "PORTAL_SMTP_URL" in text  # no mail server here: the message says the reply will wait
    text, again = _flash_after(client, f"/intake/{dismissed}/dismiss", {"csrf_token": csrf, "reason": "реклама"})
    assert text == ("Письмо от promo@spam.example отклонено: заявка не создана, отправителю ничего не отправлено. "
                    "Письмо осталось в списке «отклонены».") and not again
    listed = client.get("/intake?status=dismissed").text
    assert "Скидки недели" in listed and "Не работает синтетика" not in listed
    assert "<td>promo@spam.example</td>" in listed  # a sender without a name: the address, no empty «<…>»
    assert " · </p>" not in listed  # the status filters end without a dangling separator

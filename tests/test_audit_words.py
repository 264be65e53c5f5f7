"""The audit log names organisations and leaves out changes that changed nothing: «Организации: ООО Ромашка»,
not «romashka»; a reminder shows no «Статус: — → —» (the admin's /admin/audit page over HTTP)."""

from __future__ import annotations

import re

from portal import audit, web
from portal.policy import SystemActor
from tests.accounts.test_pages import login

TZ = "Europe/Moscow"


def _lines_of(html: str, action_words: str) -> str:
    """The words of the audit rows whose action reads ``action_words``."""
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for row in re.findall(r"<tr\b.*?</tr>", html, re.S)]
    found = [row for row in rows if action_words in row]
    assert found, action_words
    return " | ".join(found)


def test_organisations_by_name_in_audit_details():
    organizations = {"romashka": "ООО Ромашка", "vector": "АО Вектор"}
    lines = dict(web.audit_lines("package.publish", {"organizations": ["romashka", "vector"], "files": 1}, "ru", TZ,
                                 {}, organizations))
    assert lines["Организации"] == "ООО Ромашка, АО Вектор"
    assert dict(web.audit_lines("user.create", {"organization": "romashka"}, "en", TZ, {}, organizations)) == \
        {"Organisation": "ООО Ромашка"}
    # a slug no organisation has any more stays as it was recorded
    assert dict(web.audit_lines("user.create", {"organization": "gone"}, "ru", TZ, {}, organizations)) == \
        {"Организация": "gone"}


def test_a_reminder_shows_no_empty_status_change():
    details = {"from": None, "to": None, "public": True, "reminder_on": "2026-12-01",
               "next_reminder_on": "2026-12-04"}
    lines = web.audit_lines("ticket.info_reminder", details, "ru", TZ, {})
    assert [label for label, _ in lines] == ["Видно заказчику", "Напоминание за", "Следующее напоминание"]
    assert "— → —" not in str(lines)


def test_the_audit_page_names_the_organisation_of_a_published_package(client, make, db):
    make.org("romashka", "ООО Ромашка")
    make.user("admin", username="root9")
    with db.session_scope() as s:  # the row as the releases service writes it when a package is published
        audit.record(s, actor=SystemActor.operator("test"), action="package.publish", object_type="package",
                     object_id="primoart-5.2.1-hf1", details={"organizations": ["romashka"], "files": 1})
        audit.record(s, actor=SystemActor.job("notify.reminders"), action="ticket.info_reminder",
                     object_type="ticket", object_id="PRM-2026-00002",
                     details={"from": None, "to": None, "public": True, "reminder_on": "2026-12-01"})
    login(client, "root9")
    html = client.get("/admin/audit", headers={"accept": "text/html"}).text
    published = _lines_of(html, "Пакет опубликован")
    assert "ООО Ромашка" in published and "romashka" not in published, published
    reminder = _lines_of(html, "Напоминание о запрошенной информации")
    assert "—" not in reminder.split("Заявка PRM-2026-00002")[1], reminder

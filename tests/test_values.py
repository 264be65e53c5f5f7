"""Values for people (portal/web.py): who did something by name, an audit row's details as «поле: было → стало»
lines in the reader's language — no None/True, no Python lists, no snake_case codes."""

from __future__ import annotations

import re

from portal import web

NAMES = {"support": "Сергей Смирнов", "ivanova": "Анна Иванова"}
TZ = "Europe/Moscow"
CODE_OR_LITERAL = re.compile(r"\b(None|True|False)\b|\[|\]|\b[a-z]+_[a-z_]+\b")


def test_people_by_name_and_the_portals_own_actors_in_words():
    assert web.person_name("support", "ru", NAMES) == "Сергей Смирнов"
    assert web.person_name("nobody-known", "ru", NAMES) == "nobody-known"  # a login without a name stays a login
    assert web.person_name(None, "ru", NAMES) == "—"
    assert web.person_name("init", "ru", NAMES) == "Портал (начальная настройка)"
    assert web.person_name("job:notify.reminders", "ru", NAMES) == "Фоновое задание «Напоминания заказчикам»"
    assert web.person_name("job:notify.reminders", "en", NAMES) == "Background job “Reminders to customers”"
    assert web.person_name("cli:root", "ru", NAMES) == "Администратор сервера (root)"


def test_a_status_change_reads_as_before_and_after():
    lines = web.audit_lines("ticket.status", {"from": "new", "to": "in_analysis", "public": True}, "ru", TZ, NAMES)
    assert lines == [("Статус", "новая → в анализе"), ("Видно заказчику", "да")]
    lines = web.audit_lines("ticket.priority", {"from": "low", "to": "critical"}, "en", TZ, NAMES)
    assert lines == [("Priority", "low → critical")]


def test_dates_lists_files_and_people_in_words():
    details = {"eta": "2026-12-04T13:40:52.988905+00:00", "previous": None, "assignee": "support",
               "files": [{"name": "README.txt", "size": 246, "sha256": "ab" * 32}], "tickets": ["PRM-2026-00001"],
               "organization": None, "version_unsupported": False}
    lines = dict(web.audit_lines("ticket.eta", details, "ru", TZ, NAMES))
    assert lines["Плановая дата решения"] == "— → 04.12.2026 16:40"  # the portal's zone, the header's format
    assert lines["Исполнитель"] == "Сергей Смирнов"
    assert lines["Файлы"] == "README.txt (246 Б)"
    assert lines["Заявки"] == "PRM-2026-00001"
    assert lines["Организация"] == "—" and lines["Версия не поддерживается"] == "нет"
    for label, text in lines.items():
        assert not CODE_OR_LITERAL.search(label + " " + text), (label, text)


def test_an_event_that_changed_no_status_shows_no_empty_change():
    assert web.audit_lines("ticket.fix_published", {"from": None, "to": None, "package": "p-1"}, "ru", TZ, NAMES) \
        == [("Пакет", "p-1")]


def test_an_unknown_detail_still_reads_as_words():
    (label, text), = web.audit_lines("x.y", {"some_new_field": "value"}, "ru", TZ, NAMES)
    assert label == "some new field" and text == "value"


def test_every_audited_action_and_object_kind_has_words_in_both_languages():
    """Every action literal passed to audit.record (and the ticket events and delivery steps it is built from)."""
    from pathlib import Path

    from portal import i18n

    source = "\n".join(p.read_text() for p in Path(web.__file__).parent.rglob("*.py"))
    actions = set(re.findall(r'audit\.record\([^)]*?action="([a-z_]+\.[a-z_]+)"', source, re.S))
    actions |= set(re.findall(r'_effects\("([a-z_]+\.[a-z_]+)"', source))  # audited when the intent applies
    actions |= {f"ticket.{k}" for k in re.findall(r'record_event\([^)]*?kind="([a-z_]+)"', source, re.S)}
    actions |= {f"delivery.{k}" for k in re.findall(r'_audit\(session, \w+, delivery, "([a-z_]+)"', source)}
    assert len(actions) > 30, actions
    kinds = set(re.findall(r'object_type="([a-z_]+)"', source))
    for lang in i18n.LANGUAGES:
        cat = i18n.catalogue(lang)
        assert sorted(a for a in actions if f"audit.action.{a}" not in cat) == [], lang
        assert sorted(k for k in kinds if f"audit.object_kind.{k}" not in cat) == [], lang


def test_the_portals_own_actors_in_ticket_history_read_as_words(db, settings, make):
    """«portal init event.fix_published» in a customer's history: the event's author is stored in words, and
    older rows that stored «portal init» or «задание …» read as words too."""
    from portal import i18n
    from portal.policy import SystemActor
    from portal.tickets import service as tickets
    from tests.tickets.helpers import catalogue, register

    catalogue(db)
    ticket_id = register(db, settings, make.user("customer"))
    with db.session_scope() as session:
        ticket = tickets.get_ticket_unchecked(session=session, ticket_id=ticket_id)
        event = tickets.record_event(session=session, ticket=ticket, actor=SystemActor.init(), kind="fix_published")
        assert event.actor_name == "Портал (начальная настройка)"
        event = tickets.record_event(session=session, ticket=ticket, actor=SystemActor.job("notify.reminders"),
                                     kind="info_reminder")
        assert event.actor_name == "Фоновое задание «Напоминания заказчикам»"
    assert i18n.actor_words("portal init", "en") == "Portal (initial setup)"
    assert i18n.actor_words("задание notify.outbox") == "Фоновое задание «Отправка писем»"
    assert i18n.actor_words("Анна Иванова") is None



def test_an_email_names_the_delivery_channel_in_words(settings):
    from types import SimpleNamespace

    from portal.notify import templates

    package = SimpleNamespace(name="primoart-5.2.1-hf1", title="", version="5.2.1")
    for channel, shown in (("email", "(электронная почта)"), ("защищённый файлообменник",
                                                              "(защищённый файлообменник)")):
        mail = templates.render("delivery_awaiting_acknowledgement", settings=settings, context={
            "package": package, "organization_name": "ООО Ромашка", "channel": channel, "link": "https://x/",
            "recipient_name": "", "ticket_ids": ["PRM-2026-00001"]})
        assert shown in mail.text and shown in mail.html
        assert "(email)" not in mail.text

"""Each of the regulation's messages arrives over real SMTP with the right content and nobody else's data."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from portal.accounts.models import Organization
from portal.notify import service
from portal.tickets import service as tickets
from tests.notify.conftest import html_of, text_of
from tests.notify.helpers import act, deliver, outbox, register, user_in


def _world(make):
    romashka = make.org("romashka", "ООО Ромашка")
    vector = make.org("vector", "АО Вектор")
    anna = make.user("customer", romashka, username="anna", email="anna@romashka.example", full_name="Анна Иванова")
    colleague = make.user("customer", romashka, username="boris", email="boris@romashka.example")
    petr = make.user("customer", vector, username="petr", email="petr@vector.example", full_name="Пётр Петров")
    support = make.user("support", username="sergey", email="sergey@primoart.example", full_name="Сергей Смирнов")
    developer = make.user("developer", username="dmitry", email="dmitry@primoart.example", full_name="Дмитрий")
    return SimpleNamespace(romashka=romashka, vector=vector, anna=anna, colleague=colleague, petr=petr,
                           support=support, developer=developer)


def test_every_ticket_message_arrives_with_its_content_and_no_foreign_data(make, mail_db, mail_settings, smtp,
                                                                           with_catalogue):
    w = _world(make)
    db, settings = mail_db, mail_settings
    # Another organisation's ticket, busy at the same time: none of it may leak into Ромашка's mail.
    foreign = register(db, settings, w.petr, summary="Секретный проект Вектора", priority="low")
    act(db, foreign, tickets.add_comment, w.support, settings=settings, body="Вектору: перезапустите агент")

    tid = register(db, settings, w.anna, summary="Агент не отправляет данные", priority="critical")
    act(db, tid, tickets.add_comment, w.support, settings=settings, body="Внутренняя заметка: похоже на баг 5.2",
        public=False)
    act(db, tid, tickets.change_status, w.support, settings=settings, status="awaiting_info",
        comment="Пришлите журнал агента за 1 декабря")
    act(db, tid, tickets.add_comment, w.anna, settings=settings, body="Журнал во вложении")
    act(db, tid, tickets.correct_priority, w.support, settings=settings, priority="high",
        reason="Работает обходной путь: данные приходят с задержкой")
    act(db, tid, tickets.change_status, w.support, settings=settings, status="suspended",
        reason="Сетевая служба заказчика должна открыть порт 443 до коллектора")
    act(db, tid, tickets.change_status, w.support, settings=settings, status="in_analysis")
    act(db, tid, tickets.change_status, w.support, settings=settings, status="escalated")
    eta = dt.datetime(2027, 1, 20, 15, 0, tzinfo=dt.UTC)
    act(db, tid, tickets.set_eta, w.developer, eta=eta, comment="Исправление войдёт в 5.2.3")
    act(db, tid, tickets.set_eta, w.developer, eta=eta + dt.timedelta(days=7))
    act(db, tid, tickets.change_status, w.support, settings=settings, status="in_verification")
    act(db, tid, tickets.change_status, w.support, settings=settings, status="resolved",
        solution="Обновите агент до 5.2.3", workaround="Перезапуск агента раз в сутки")

    report = deliver(db, settings)
    assert report.failed == 0 and report.retrying == 0

    anna = smtp.to("anna@romashka.example")
    subjects = [m["Subject"] for m in anna]
    expected = ["Заявка зарегистрирована", "Нужна дополнительная информация", "Приоритет заявки изменён",
                "приостановлена", "Плановая дата решения", "Плановая дата решения изменена", "Заявка решена"]
    for part in expected:
        assert any(part in s for s in subjects), (part, subjects)
    assert all(tid in s for s in subjects)

    def one(part):
        found = [m for m in anna if part in m["Subject"]]
        assert found, part
        return found[0]

    registered = text_of(one("Заявка зарегистрирована"))
    assert tid in registered and f"https://support.example.test/tickets/{tid}" in registered
    assert f'href="https://support.example.test/tickets/{tid}"' in html_of(one("Заявка зарегистрирована"))
    assert "Пришлите журнал агента за 1 декабря" in text_of(one("Нужна дополнительная информация"))
    priority = one("Приоритет заявки изменён")
    assert "критический → высокий" in priority["Subject"]
    assert "Работает обходной путь: данные приходят с задержкой" in text_of(priority)
    assert "смежный сервис" in text_of(one("приостановлена"))
    assert "открыть порт 443" in text_of(one("приостановлена"))
    assert "20.01.2027" in one("Плановая дата решения:")["Subject"]
    changed = text_of(one("Плановая дата решения изменена"))
    assert "было" not in changed and "была 20.01.2027 18:00, теперь 27.01.2027 18:00" in changed  # Moscow time
    resolved = text_of(one("Заявка решена"))
    assert "Обновите агент до 5.2.3" in resolved and "Перезапуск агента раз в сутки" in resolved

    # The public staff reply reached the customer; the internal note reached nobody.
    everything = [text_of(m) + html_of(m) + str(m["Subject"]) for m in smtp.messages]
    assert not any("Внутренняя заметка" in body for body in everything)
    # Ромашка's mail carries nothing of Вектор, and Вектор's nothing of Ромашка.
    for m in smtp.messages:
        to = str(m["To"])
        body = text_of(m) + html_of(m) + str(m["Subject"])
        if "romashka" in to:
            assert "Вектор" not in body and foreign not in body and "перезапустите агент" not in body
        if "vector" in to:
            assert "Ромашка" not in body and tid not in body and "Агент не отправляет" not in body
    # Only the ticket's own people: the colleague who does not follow the organisation's tickets got nothing.
    assert smtp.to("boris@romashka.example") == []
    assert {m["Subject"] for m in smtp.to("petr@vector.example")} >= {f"[{foreign}] Ответ службы поддержки"}
    # A new critical ticket alerted second line (and only second line).
    alerts = smtp.to("sergey@primoart.example")
    assert [m["Subject"] for m in alerts] == [f"[{tid}] Критическая заявка: Агент не отправляет данные"]
    assert smtp.to("dmitry@primoart.example") == []
    # Every message has its own Message-ID, threads by ticket, and says it is automatic.
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == len(set(ids)) == len(outbox(db))
    assert all(m["Auto-Submitted"] == "auto-generated" for m in smtp.messages)
    assert all(f"<ticket.{tid.lower()}@primoart.example>" in str(m["References"]) for m in anna)


def test_deferral_reason_and_reminder_wording(make, mail_db, mail_settings, smtp, with_catalogue):
    w = _world(make)
    db, settings = mail_db, mail_settings
    tid = register(db, settings, w.anna)
    act(db, tid, tickets.change_status, w.support, settings=settings, status="deferred", reason="unsupported_version")
    deliver(db, settings)
    deferred = [m for m in smtp.to("anna@romashka.example") if "отложено" in m["Subject"]]
    assert len(deferred) == 1
    assert "версия Продукта является устаревшей и больше не поддерживается" in text_of(deferred[0])


def test_resolved_message_links_the_knowledge_base_article_citing_the_ticket(make, mail_db, mail_settings, smtp,
                                                                              with_catalogue, content_repo):
    from portal.knowledge import service as knowledge

    w = _world(make)
    writer = make.user("writer", username="maria")
    db, settings = mail_db, mail_settings
    tid = register(db, settings, w.anna)
    with db.session_scope() as s:
        article = knowledge.create_article(
            session=s, settings=settings, actor=user_in(s, writer),
            front_matter={"title": "Агент RUM не отправляет данные после обновления браузера", "kind": "known_issue",
                          "visibility": "customers", "tickets": [tid], "module": "RUM-агент",
                          "summary": "Обновите агент до 5.2.3"},
            body="Обновите агент.")
        knowledge.publish_article(session=s, settings=settings, actor=user_in(s, writer), slug=article.slug)
    act(db, tid, tickets.change_status, w.support, settings=settings, status="in_analysis")
    act(db, tid, tickets.change_status, w.support, settings=settings, status="resolved", solution="Обновите агент")
    deliver(db, settings)
    resolved = [m for m in smtp.to("anna@romashka.example") if "решена" in m["Subject"]][0]
    assert "Агент RUM не отправляет данные после обновления браузера" in text_of(resolved)
    assert "https://support.example.test/kb/" in text_of(resolved)


def test_package_and_delivery_messages_go_to_the_entitled_organisation_only(make, mail_db, mail_settings, smtp,
                                                                            with_catalogue):
    w = _world(make)
    db, settings = mail_db, mail_settings
    own = register(db, settings, w.anna)
    other = register(db, settings, w.petr)
    package = SimpleNamespace(id="PKG-1", name="primoart-5.2.3-hotfix1", version="5.2.3",
                              sha256="ab" * 32, ticket_ids=[own, other])
    with db.session_scope() as s:
        org = s.get(Organization, w.romashka.id)
        service.package_available(session=s, settings=settings, package=package, organization=org)
        service.delivery_awaiting_acknowledgement(session=s, settings=settings, package=package, organization=org,
                                                  channel="защищённый файлообменник")
        # Told once per package and organisation, however many times the releases code asks.
        assert service.package_available(session=s, settings=settings, package=package, organization=org) == []
    deliver(db, settings)
    to_romashka = [m for m in smtp.messages if "romashka" in str(m["To"]) and "пакет" in m["Subject"]]
    subjects = sorted({m["Subject"] for m in to_romashka})
    assert subjects == ["Доступен пакет исправлений primoart-5.2.3-hotfix1",
                        "Подтвердите получение пакета исправлений primoart-5.2.3-hotfix1"]
    assert {str(m["To"]) for m in to_romashka} == {
        "anna@romashka.example", "boris@romashka.example"}
    for m in to_romashka:
        body = text_of(m) + html_of(m)
        assert own in body and other not in body and "Вектор" not in body
    assert not [m for m in smtp.messages if "vector" in str(m["To"]) and "пакет" in m["Subject"].lower()]


def test_preferences_decide_who_gets_copies(make, mail_db, mail_settings, smtp, with_catalogue):
    w = _world(make)
    db, settings = mail_db, mail_settings
    with db.session_scope() as s:
        boris = user_in(s, w.colleague)
        service.set_preferences(session=s, actor=boris, user=boris, organization_tickets=True)
        anna = user_in(s, w.anna)
        service.set_preferences(session=s, actor=anna, user=anna, ticket_updates=False)
        sergey = user_in(s, w.support)
        service.set_preferences(session=s, actor=sergey, user=sergey, staff_alerts=False)
    register(db, settings, w.anna, priority="critical")
    deliver(db, settings)
    assert smtp.to("anna@romashka.example") == []
    assert len(smtp.to("boris@romashka.example")) == 1
    assert smtp.to("sergey@primoart.example") == []
    with db.session_scope(write=False) as s:
        from portal import audit

        assert {e.object_id for e in audit.query(s, action="notify.preferences")} == {"boris", "anna", "sergey"}


def test_publishing_a_real_fix_package_tells_each_entitled_organisation_once(make, mail_db, mail_settings, smtp,
                                                                              with_catalogue, content_repo):
    import io

    from portal.releases import service as releases

    w = _world(make)
    db, settings = mail_db, mail_settings
    own = register(db, settings, w.anna, summary="Отчёт не выгружается")
    other = register(db, settings, w.petr, summary="Секрет Вектора")
    staged = releases.stage_file(settings=settings, name="primoart-5.2.1-hf3.tar.gz",
                                 stream=io.BytesIO(b"fix package bytes\n" * 10))
    with db.session_scope() as s:
        support = user_in(s, w.support)
        data = releases.PackageInput(id="primoart-5.2.1-hf3", title="Исправление выгрузки", version="5.2.1-hf3",
                                     product_versions=["5.2"], modules=["RUM-агент"], ticket_ids=[own, other],
                                     organizations=[], notes="")
        releases.create_package(session=s, settings=settings, actor=support, data=data, files=[staged])
        releases.publish_package(session=s, settings=settings, actor=support, package_id="primoart-5.2.1-hf3")
    deliver(db, settings)
    available = [m for m in smtp.messages if "Доступен пакет" in m["Subject"]]
    assert sorted(str(m["To"]) for m in available) == ["anna@romashka.example", "boris@romashka.example",
                                                       "petr@vector.example"]
    for m in available:
        body = text_of(m)
        assert staged.sha256 in body and "https://support.example.test/packages/primoart-5.2.1-hf3" in body
        if "romashka" in str(m["To"]):
            assert own in body and other not in body and "Вектор" not in body
        else:
            assert other in body and own not in body and "Ромашка" not in body


def test_customer_text_is_escaped_in_html_and_kept_in_plain_text(make, mail_db, mail_settings, smtp, with_catalogue):
    w = _world(make)
    register(mail_db, mail_settings, w.anna, summary='<img src=x onerror="alert(1)"> не грузится')
    deliver(mail_db, mail_settings)
    [message] = smtp.to("anna@romashka.example")
    assert "<img" not in html_of(message) and "&lt;img src=x" in html_of(message)
    assert '<img src=x onerror="alert(1)"> не грузится' in text_of(message)

"""Demo data of `portal init --demo`: the product catalogue and a handful of realistic tickets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from portal.accounts.models import User
from portal.db import utcnow
from portal.i18n import message
from portal.policy import SystemActor
from portal.tickets import service

MODULES = (
    ("RUM-агент", "Сбор данных о работе реальных пользователей в браузере и мобильных приложениях"),
    ("Синтетический мониторинг (STM)", "Сценарии синтетических транзакций, агенты и расписания проверок"),
    ("Панели и отчёты", "Дашборды, отчёты, экспорт"),
    ("API и интеграции", "REST API, вебхуки, интеграции с ITSM и системами оповещения"),
    ("Администрирование", "Пользователи, роли, лицензии, настройки платформы"),
)
VERSIONS = (("5.0", False), ("5.1", True), ("5.2", True), ("5.2.1", True))


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def seed_demo(*, session, settings, report) -> None:
    """Create the demo catalogue and tickets of ООО Ромашка and АО Вектор in various statuses."""
    if service.list_modules(session=session):
        return
    for name, description in MODULES:
        service.add_module(session=session, actor=SystemActor.init(), name=name, description=description)
    for name, supported in VERSIONS:
        service.add_version(session=session, actor=SystemActor.init(), name=name, supported=supported)
    ivanova, petrov = _user(session, "ivanova"), _user(session, "petrov")
    support, developer, qa = _user(session, "support"), _user(session, "developer"), _user(session, "qa")
    now = utcnow()

    def file(actor, days_ago: float, **fields):
        data = service.TicketInput(**fields)
        return service.register(session=session, settings=settings, actor=actor, data=data,
                                now=now - dt.timedelta(days=days_ago))

    # Resolved: a real problem, analysed by third line, ETA set, verified, resolved with cause and solution.
    t1 = file(ivanova, 12, kind="problem", module="RUM-агент", product_version="5.2", priority="high",
              summary="RUM-агент не отправляет данные после обновления браузера до Chrome 131",
              description="После обновления Chrome на рабочих станциях операторов в панели «Реальные "
              "пользователи» пропали данные за последние сутки. В консоли браузера ошибка CSP.",
              steps_to_reproduce="1. Открыть портал самообслуживания в Chrome 131.\n2. Выполнить вход.\n"
              "3. Открыть панель «Реальные пользователи» — новых сессий нет.")
    at = t1.registered_at
    service.change_status(session=session, settings=settings, ticket=t1, actor=support, status="in_analysis",
                          comment="Взяли в работу, воспроизводим на стенде.", now=at + dt.timedelta(hours=2))
    service.change_status(session=session, settings=settings, ticket=t1, actor=support, status="escalated",
                          comment="Воспроизводится, передаём в разработку.", now=at + dt.timedelta(hours=5))
    service.set_eta(session=session, ticket=t1, actor=developer, eta=at + dt.timedelta(days=7),
                    comment="Исправление войдёт в 5.2.1.", now=at + dt.timedelta(days=1))
    service.change_status(session=session, settings=settings, ticket=t1, actor=qa, status="in_verification",
                          now=at + dt.timedelta(days=5))
    service.change_status(session=session, settings=settings, ticket=t1, actor=qa, status="resolved",
                          cause="Агент загружал модуль через eval(), что запрещает строгая политика CSP.",
                          solution="Обновить RUM-агент до версии из пакета 5.2.1.",
                          workaround="Временно добавить домен сборщика в connect-src политики CSP.",
                          now=at + dt.timedelta(days=6))
    # Awaiting information from the customer.
    t2 = file(ivanova, 3, kind="problem", module="Синтетический мониторинг (STM)", product_version="5.2.1",
              priority="medium", summary="Сценарий «Оплата картой» падает по таймауту на шаге 4",
              description="С понедельника сценарий падает каждую третью проверку.",
              steps_to_reproduce="Запустить сценарий «Оплата картой» с агента msk-01 вручную.")
    service.change_status(session=session, settings=settings, ticket=t2, actor=support, status="awaiting_info",
                          comment="Пришлите, пожалуйста, HAR-файл неудачной проверки и журнал агента msk-01.",
                          now=t2.registered_at + dt.timedelta(hours=3))
    # New, just filed: a consultation and an access request.
    file(ivanova, 0.1, kind="consultation", module="Панели и отчёты", product_version="5.2.1", priority="low",
         summary="Как выгрузить отчёт по Apdex за квартал в CSV?",
         description="Нужна квартальная выгрузка для руководства, в интерфейсе вижу только PDF.")
    # Vector: critical, escalated, with a planned resolution date; a suspended one; an old-version deferral.
    t4 = file(petrov, 1, kind="problem", module="API и интеграции", product_version="5.2", priority="critical",
              summary="Вебхуки в ServiceDesk перестали доставляться, инциденты не создаются",
              description="С 03:00 вебхуки возвращают 500, очередь оповещений растёт.",
              steps_to_reproduce="Создать тестовое оповещение в разделе «Интеграции» → «Проверить».")
    service.change_status(session=session, settings=settings, ticket=t4, actor=support, status="escalated",
                          comment="Критично, передано разработке.", now=t4.registered_at + dt.timedelta(hours=1))
    service.set_eta(session=session, ticket=t4, actor=developer, eta=now + dt.timedelta(days=2),
                    comment="Готовим исправление, ориентир — два дня.", now=t4.registered_at + dt.timedelta(hours=6))
    t5 = file(petrov, 5, kind="access", module="Администрирование", product_version="5.1", priority="medium",
              summary="Предоставить доступ к разделу STM группе дежурных",
              description="Нужны права «Просмотр сценариев» для группы AD «Дежурные».")
    service.change_status(session=session, settings=settings, ticket=t5, actor=support, status="in_analysis",
                          now=t5.registered_at + dt.timedelta(hours=4))
    service.change_status(session=session, settings=settings, ticket=t5, actor=support, status="suspended",
                          reason="Ожидаем, пока служба каталогов заказчика создаст группу AD «Дежурные».",
                          now=t5.registered_at + dt.timedelta(hours=6))
    t6 = file(petrov, 8, kind="problem", module="RUM-агент", product_version="5.0", priority="low",
              summary="Не отображается карта регионов на панели RUM",
              description="Карта пустая, таблица по регионам заполнена.",
              steps_to_reproduce="Открыть панель RUM → «География».")
    service.change_status(session=session, settings=settings, ticket=t6, actor=support, status="deferred",
                          reason="unsupported_version", comment="Версия 5.0 больше не поддерживается; "
                          "после обновления до 5.2.1 карта работает.", now=t6.registered_at + dt.timedelta(hours=9))
    report.done.append(message("cli.init.demo_tickets"))

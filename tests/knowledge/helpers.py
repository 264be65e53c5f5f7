"""Resolved tickets for knowledge-base tests, made through the tickets domain's real services."""

from __future__ import annotations

from portal.tickets import service as tickets
from tests.tickets.helpers import catalogue, load_user, register


def ticket_resolver(db, settings, make):
    """A function: resolve(customer=None, status="resolved", **ticket fields) → ticket ID."""
    catalogue(db)
    support = make.user("support", username="smirnov", full_name="Сергей Смирнов")

    def resolve(customer=None, *, status="resolved", **fields):
        customer = customer or make.user("customer")
        ticket_id = register(db, settings, customer, **fields)
        with db.session_scope() as s:
            ticket = tickets.get_ticket_unchecked(session=s, ticket_id=ticket_id)
            actor = load_user(s, support)
            tickets.change_status(session=s, settings=settings, ticket=ticket, actor=actor, status="in_analysis")
            if status == "resolved":
                tickets.change_status(
                    session=s, settings=settings, ticket=ticket, actor=actor, status="resolved",
                    cause="Агент RUM 5.2 не читает ключ проекта из атрибута data-key после обновления браузера.",
                    solution="1. Обновите агент до 5.2.1.\n2. Очистите кэш браузера.",
                    workaround="Укажите ключ в параметре key скрипта агента.")
        return ticket_id

    return resolve

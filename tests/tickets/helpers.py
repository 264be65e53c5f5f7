"""Building ticket data through the real services (catalogue, registration) for the ticket tests."""

from __future__ import annotations

from portal.policy import SystemActor
from portal.tickets import service

MODULE, VERSION, OLD_VERSION = "RUM-агент", "5.2", "5.0"


def catalogue(db) -> None:
    with db.session_scope() as s:
        service.add_module(session=s, actor=SystemActor.operator("test"), name=MODULE)
        service.add_module(session=s, actor=SystemActor.operator("test"), name="Синтетический мониторинг (STM)")
        service.add_version(session=s, actor=SystemActor.operator("test"), name=VERSION)
        service.add_version(session=s, actor=SystemActor.operator("test"), name=OLD_VERSION, supported=False)


def body(**overrides) -> dict:
    """A valid JSON body of POST /api/v1/tickets."""
    data = {"kind": "problem", "module": MODULE, "product_version": VERSION, "priority": "high",
            "summary": "Агент не отправляет данные", "description": "После обновления браузера данных нет.",
            "steps_to_reproduce": "1. Открыть страницу.\n2. Данных нет.",
            "contact": {"name": "Анна Иванова", "email": "ivanova@romashka.example", "phone": ""}}
    data.update(overrides)
    return data


def ticket_input(**overrides) -> service.TicketInput:
    data = body()
    contact = data.pop("contact")
    values = {**data, "contact_name": contact["name"], "contact_email": contact["email"], **overrides}
    return service.TicketInput(**values)


def load_user(session, user):
    """The factory's user, loaded in this session."""
    from portal.accounts.models import User

    return session.get(User, user.id)


def register(db, settings, actor, now=None, **overrides):
    with db.session_scope() as s:
        ticket = service.register(session=s, settings=settings, actor=load_user(s, actor),
                                  data=ticket_input(**overrides), now=now)
        return ticket.id

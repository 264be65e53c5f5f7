"""Demo data of `portal init --demo`: one published fix package for a resolved ticket of ООО Ромашка."""

from __future__ import annotations

import io

from sqlalchemy import select

from portal.i18n import message
from portal.policy import SystemActor
from portal.releases import service
from portal.releases.models import Package
from portal.tickets.models import Ticket

DEMO_ID = "primoart-5.2.1-hf1"
README = """PrimoART 5.2.1-hf1 — демонстрационный пакет исправлений.

Установка: остановите сервис primoart-collector, замените файлы из архива, запустите сервис.
"""


def seed_demo(*, session, settings, report) -> None:
    """Publish a small demo package for the first resolved ticket of the demo customers."""
    if session.get(Package, DEMO_ID) is not None:
        return
    ticket = session.scalar(select(Ticket).where(Ticket.status == "resolved").order_by(Ticket.id))
    if ticket is None:
        return
    staged = [service.stage_file(settings=settings, name="README-5.2.1-hf1.txt", stream=io.BytesIO(README.encode()))]
    data = service.PackageInput(id=DEMO_ID, title="Исправление RUM-агента для Chrome 131", version="5.2.1-hf1",
                                product_versions=["5.2", "5.2.1"], modules=[ticket.module], ticket_ids=[ticket.id])
    service.create_package(session=session, settings=settings, actor=SystemActor.init(), data=data, files=staged)
    service.publish_package(session=session, settings=settings, actor=SystemActor.init(), package_id=DEMO_ID)
    report.done.append(message("cli.init.demo_package", id=DEMO_ID))

"""Fix-package test data through the real services: organisations, people, tickets, staged files, packages."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from portal.accounts.models import User
from portal.releases import service
from tests.tickets import helpers as tickets


@dataclass
class World:
    romashka: object
    vector: object
    third: object
    ivanova: User  # customer of romashka
    petrov: User  # customer of vector
    outsider: User  # customer of a third organisation
    support: User
    developer: User
    t_romashka: str
    t_vector: str


@pytest.fixture
def world(db, settings, make, content_repo) -> World:
    return make_world(db, settings, make)


def make_world(db, settings, make) -> World:
    """Three organisations, their customers, second and third line, a ticket each of romashka and vector."""
    tickets.catalogue(db)
    romashka, vector, third = make.org("romashka", "ООО Ромашка"), make.org("vector", "АО Вектор"), make.org("third")
    ivanova = make.user("customer", romashka, username="ivanova", full_name="Анна Иванова")
    petrov = make.user("customer", vector, username="petrov")
    outsider = make.user("customer", third, username="outsider")
    support = make.user("support", username="support", full_name="Сергей Смирнов")
    developer = make.user("developer", username="dev")
    t1 = tickets.register(db, settings, ivanova, summary="Отчёт не выгружается в Excel")
    t2 = tickets.register(db, settings, petrov, summary="Агент теряет сессии")
    return World(romashka, vector, third, ivanova, petrov, outsider, support, developer, t1, t2)


def load(session, user: User) -> User:
    return session.get(User, user.id)


def stage(settings, name: str = "primoart-5.2.1-hf3.tar.gz", data: bytes = b"fix package bytes\n" * 100):
    return service.stage_file(settings=settings, name=name, stream=io.BytesIO(data))


def create(db, settings, actor, *, package_id="primoart-5.2.1-hf3", tickets=(), orgs=(), files=None,
           publish=False, notes="", title="Исправление выгрузки отчётов"):
    """A package made by ``actor`` (committed); its ID."""
    files = files if files is not None else [stage(settings)]
    with db.session_scope() as s:
        data = service.PackageInput(id=package_id, title=title, version="5.2.1-hf3", product_versions=["5.2"],
                                    modules=[tickets_module()], ticket_ids=list(tickets), organizations=list(orgs),
                                    notes=notes)
        package = service.create_package(session=s, settings=settings, actor=load(s, actor), data=data, files=files)
        if publish:
            service.publish_package(session=s, settings=settings, actor=load(s, actor), package_id=package.id)
        return package.id


def tickets_module() -> str:
    return tickets.MODULE


def wait_for(check, timeout: float = 10.0):
    """The download log is written when the stream ends, just after the client has its last byte: poll."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def downloads_logged(db, count: int = 1):
    from portal.releases.models import Download

    def check():
        with db.session_scope(write=False) as s:
            return s.query(Download).count() >= count

    return wait_for(check)

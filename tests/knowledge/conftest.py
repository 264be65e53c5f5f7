"""Helpers for knowledge-base tests: writers and articles made through the real services."""

from __future__ import annotations

import pytest

from portal.knowledge import service
from tests.knowledge.helpers import ticket_resolver


@pytest.fixture
def writer(make):
    return make.user("writer", username="sokolova", full_name="Мария Соколова", email="sokolova@primoart.example")


@pytest.fixture
def write_article(db, settings, content_repo):
    """write_article(actor, title=…, visibility=…, body=…, **front matter) → the created Article (committed)."""

    def create(actor, *, title="Агент RUM не отправляет данные", kind="problem", visibility="customers",
               body="## Симптомы\n\nДанные не приходят.\n", section=None, **meta):
        with db.session_scope() as session:
            return service.create_article(
                session=session, settings=settings, actor=actor, body=body, section=section,
                front_matter={"title": title, "kind": kind, "visibility": visibility,
                              "summary": meta.pop("summary", "Краткое описание"), **meta})

    return create


@pytest.fixture
def resolved_ticket(db, settings, make, content_repo):
    """resolved_ticket(customer=None, **ticket fields) → the ID of a ticket taken through analysis to resolved."""
    return ticket_resolver(db, settings, make)

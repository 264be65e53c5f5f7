"""The staff ticket page's similar-ticket lookup kept per (ticket, its text, index version), on each backend: a
second view of an unchanged ticket does not ask the index, and an index that advanced — a ticket event here, or a
write of another node's index object — is asked again and shows what changed."""

from __future__ import annotations

from portal.search.similar import service as similar
from portal.search.similar.pg_tickets import PgTickets
from portal.search.similar.whoosh_tickets import WhooshTickets
from tests.accounts.test_pages import login
from tests.similar.test_pages import NEW, SOLVED, _people, _resolve, _settled, _take
from tests.tickets.helpers import catalogue, load_user, register


def _panel(db, settings, user, ticket_id):
    with db.session_scope() as s:
        return [f.ticket.id for f in similar.similar_solved(session=s, settings=settings, user=load_user(s, user),
                                                             ticket_id=ticket_id)]


def test_a_second_view_is_answered_from_the_cache_until_the_index_advances(client, make, db, settings):
    catalogue(db)
    people = _people(make)
    first = register(db, settings, people["anna"], **SOLVED)
    _resolve(db, settings, first, people["sergey"])
    new = register(db, settings, people["petr"], **NEW)
    _take(db, settings, new, people["sergey"])
    _settled(settings)
    cache = similar.PANEL_CACHE
    index = similar.backend(settings)
    version = index.version()
    assert version is not None

    hits, misses = cache.hits, cache.misses
    assert _panel(db, settings, people["sergey"], new) == [first]
    assert (cache.hits, cache.misses) == (hits, misses + 1)
    login(client, "sergey")
    for _ in range(3):  # the page over HTTP: the same lookup, not asked again
        page = client.get(f"/tickets/{new}")
        assert page.status_code == 200 and f'data-ticket="{first}"' in page.text
    assert (cache.hits, cache.misses) == (hits + 3, misses + 1)

    # A ticket event advances the index: the next view asks it again and shows the new solved ticket (told in the
    # new ticket's own words: the closest there is now).
    second = register(db, settings, people["anna"], **NEW)
    _resolve(db, settings, second, people["sergey"])
    _settled(settings)
    assert index.version() != version
    assert _panel(db, settings, people["sergey"], new)[:1] == [second]
    assert cache.misses == misses + 2

    # Another ticket's view is its own entry.
    assert new not in _panel(db, settings, people["sergey"], first)
    assert cache.misses == misses + 3


def test_a_write_of_another_nodes_index_object_moves_the_version(make, db, settings):
    """Another node writes the same index (the shared PostgreSQL tables, or the data home's generation): this
    process's version moves though none of its own threads wrote."""
    catalogue(db)
    people = _people(make)
    first = register(db, settings, people["anna"], **SOLVED)
    _settled(settings)
    here = similar.backend(settings)
    before = here.version()
    assert before is not None and here.version() == before  # unchanged while nothing is written
    elsewhere = PgTickets(settings) if settings.search_backend == "postgresql" else WhooshTickets(settings)
    try:
        from portal.search.similar.index import Following

        assert isinstance(elsewhere, Following) and elsewhere is not here
        from portal.tickets import history

        history.EVENT_LISTENERS.remove(similar.on_ticket_event)  # this process's thread does not catch up
        try:
            _resolve(db, settings, first, people["sergey"])
        finally:
            history.EVENT_LISTENERS.add(similar.on_ticket_event)
        assert here.version() == before
        assert elsewhere.catch_up(wait=True) >= 1
        assert here.version() != before
    finally:
        elsewhere.close()

"""Similar solved tickets and the duplicate warning over real HTTP: tickets filed and resolved through the real
services (the ticket event listener keeps the index current), pages and API asked of a live server."""

from __future__ import annotations

import html
import re

from portal.db import utcnow
from portal.knowledge import service as knowledge
from portal.releases.models import Package, PackageTicket
from portal.search.similar import service as similar
from portal.tickets import service
from tests.accounts.test_pages import login
from tests.tickets.helpers import catalogue, load_user, register

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"
SOLVED = dict(summary="RUM-агент не отправляет данные после обновления Chrome 131",
              description="После обновления браузера в панели «Реальные пользователи» нет сессий, в консоли ошибка CSP.")
CAUSE = "Политика CSP сайта не разрешает соединения с адресом сборщика. " + HOSTILE
SOLUTION = "Добавить адрес сборщика в **connect-src** заголовка Content-Security-Policy."
WORKAROUND = "Временно отключить CSP для страницы мониторинга."
NEW = dict(summary="Пропали сессии реальных пользователей после обновления хрома",
           description="С утра после обновления браузеров сессии не приходят, консоль пишет refused to connect (CSP).")


def _people(make):
    romashka, vector = make.org("romashka"), make.org("vector")
    return {"anna": make.user("customer", romashka, username="anna"),
            "petr": make.user("customer", vector, username="petr"),
            "sergey": make.user("support", username="sergey")}


def _take(db, settings, ticket_id, actor):
    with db.session_scope() as s:
        ticket = service.get_ticket(session=s, ticket_id=ticket_id, user=load_user(s, actor))
        service.take(session=s, settings=settings, ticket=ticket, actor=load_user(s, actor))


def _resolve(db, settings, ticket_id, actor):
    _take(db, settings, ticket_id, actor)
    with db.session_scope() as s:
        ticket = service.get_ticket(session=s, ticket_id=ticket_id, user=load_user(s, actor))
        service.change_status(session=s, settings=settings, ticket=ticket, actor=load_user(s, actor),
                              status="resolved", cause=CAUSE, solution=SOLUTION, workaround=WORKAROUND)


def _settled(settings):
    """Wait for the thread the ticket events started (the requests never waited for it)."""
    similar.backend(settings).settle(30)


def test_staff_see_similar_solved_tickets_and_use_a_solution(client, bearer, make, db, settings):
    catalogue(db)
    people = _people(make)
    solved = register(db, settings, people["anna"], **SOLVED)
    _resolve(db, settings, solved, people["sergey"])
    unrelated = register(db, settings, people["petr"], summary="Экспорт отчёта в PDF обрезает таблицы",
                         description="Широкие таблицы не помещаются на страницу PDF.")
    _resolve(db, settings, unrelated, people["sergey"])
    new = register(db, settings, people["petr"], **NEW)
    _take(db, settings, new, people["sergey"])
    _settled(settings)
    writer = make.user("writer", username="sokolova")
    with db.session_scope() as s:  # an article citing the solved ticket, and a published package with its fix
        knowledge.create_article(session=s, settings=settings, actor=load_user(s, writer), body="Текст.",
                                 section=None, front_matter={"title": "RUM и CSP: куда пишет агент",
                                                             "kind": "problem", "visibility": "customers",
                                                             "summary": "Разрешить сборщик в CSP",
                                                             "tickets": [solved]})
        s.add(Package(id="primoart-5.2.1-hf9", title="Исправление агента для CSP", version="5.2.1",
                      status="published", published_at=utcnow()))
        s.flush()
        s.add(PackageTicket(package_id="primoart-5.2.1-hf9", ticket_id=solved))

    login(client, "sergey")
    page = client.get(f"/tickets/{new}")
    assert page.status_code == 200
    panel = page.text[page.text.index('data-testid="similar-tickets"'):]
    panel = panel[:panel.index("</section>")]
    assert f'data-ticket="{solved}"' in panel
    assert panel.index(f'data-ticket="{solved}"') < panel.index(f'data-ticket="{unrelated}"') \
        if f'data-ticket="{unrelated}"' in panel else True
    assert "<strong>connect-src</strong>" in panel  # the solution as the portal renders prose
    assert "<script>" not in panel and "onerror=" not in panel.replace("onerror=alert(1)&gt;", "")
    assert not re.search(r"<img[^>]*onerror", panel)
    first = panel[panel.index(f'data-ticket="{solved}"'):]
    first = first[:first.index("</details>")]
    assert "RUM и CSP: куда пишет агент" in first and "primoart-5.2.1-hf9" in first
    use = f"/tickets/{new}/act/resolve?solution_from={solved}"
    assert html.escape(use) in panel

    step = client.get(use)
    assert step.status_code == 200
    assert 'data-testid="solution-from"' in step.text
    solution_box = re.search(r'<textarea name="solution"[^>]*>([^<]*)</textarea>', step.text).group(1)
    assert html.unescape(solution_box) == SOLUTION
    cause_box = re.search(r'<textarea name="cause"[^>]*>([^<]*)</textarea>', step.text).group(1)
    assert html.unescape(cause_box) == CAUSE  # typed text stays text in the form, escaped

    r = bearer.get(people["sergey"], f"/api/v1/similar/tickets/{new}")
    assert r.status_code == 200
    body = r.json()
    assert body[0]["id"] == solved and body[0]["solution"] == SOLUTION and body[0]["workaround"] == WORKAROUND
    assert [a["title"] for a in body[0]["articles"]] == ["RUM и CSP: куда пишет агент"]
    assert body[0]["packages"] == [{"id": "primoart-5.2.1-hf9", "title": "Исправление агента для CSP"}]
    assert new not in [b["id"] for b in body]


def test_customers_get_no_similar_solved_tickets(client, bearer, make, db, settings):
    catalogue(db)
    people = _people(make)
    solved = register(db, settings, people["anna"], **SOLVED)
    _resolve(db, settings, solved, people["sergey"])
    mine = register(db, settings, people["anna"], **NEW)
    _settled(settings)

    login(client, "anna")
    page = client.get(f"/tickets/{mine}")
    assert page.status_code == 200
    assert "similar-tickets" not in page.text and "solution_from" not in page.text
    r = bearer.get(people["anna"], f"/api/v1/similar/tickets/{mine}")
    assert r.status_code == 403
    assert solved not in r.text
    # A staff link with another ticket's solution gives a customer nothing either.
    assert client.get(f"/tickets/{mine}/act/resolve?solution_from={solved}").status_code in (302, 303, 403, 404)


def test_duplicate_warning_offers_only_the_customers_own_open_tickets(client, bearer, make, db, settings):
    """A canary: an open ticket of another organisation matching what the customer types word for word never
    shows — not its ID, title or a count — while the customer's own similar open ticket does."""
    catalogue(db)
    people = _people(make)
    canary_text = dict(summary="Канарейка: RUM-агент не отправляет данные после обновления Chrome 131",
                       description="Канарейка поёт: в панели «Реальные пользователи» нет сессий, ошибка CSP.")
    canary = register(db, settings, people["petr"], **canary_text)
    own = register(db, settings, people["anna"], **SOLVED)
    closed_own = register(db, settings, people["anna"], **NEW)
    _resolve(db, settings, closed_own, people["sergey"])
    _settled(settings)

    params = {"summary": canary_text["summary"], "description": canary_text["description"]}
    r = bearer.get(people["anna"], "/api/v1/similar/duplicates", params=params)
    assert r.status_code == 200
    assert [d["id"] for d in r.json()] == [own]  # open, own organisation; the closed one is not a duplicate
    assert canary not in r.text and "Канарейка" not in r.text

    # The other organisation's customer sees their own canary, and not the first one's ticket.
    r = bearer.get(people["petr"], "/api/v1/similar/duplicates", params=params)
    assert [d["id"] for d in r.json()] == [canary] and own not in r.text

    # The form itself carries nothing of it; staff (no organisation of their own) are offered nothing here.
    login(client, "anna")
    form = client.get("/tickets/new")
    assert 'data-testid="duplicates"' in form.text and canary not in form.text
    assert bearer.get(people["sergey"], "/api/v1/similar/duplicates", params=params).json() == []

    # Too long a text is refused with a clear 422, not a 500.
    r = bearer.get(people["anna"], "/api/v1/similar/duplicates", params={"summary": "х" * 301})
    assert r.status_code == 422


def test_the_index_follows_ticket_events(make, db, settings):
    """Registered → open lookup finds it; resolved → it moves to the solved scope; the catch-up from the
    watermark after a crash (no thread ran) finds what was written meanwhile."""
    catalogue(db)
    people = _people(make)
    first = register(db, settings, people["anna"], **SOLVED)
    _settled(settings)
    index = similar.backend(settings)
    from portal.search.similar.documents import TicketText

    text = TicketText(**{k: v for k, v in NEW.items()})
    with db.session_scope() as s:
        org = load_user(s, people["anna"]).organization_id
    assert [m.ticket_id for m in index.similar(text, scope="open", organization_id=org)] == [first]
    _resolve(db, settings, first, people["sergey"])
    _settled(settings)
    assert index.similar(text, scope="open", organization_id=org) == []
    assert [m.ticket_id for m in index.similar(text, scope="solved")] == [first]

    # Events whose thread never ran (the process died after the commit): the next catch-up reads them.
    from portal.tickets import history

    history.EVENT_LISTENERS.remove(similar.on_ticket_event)
    try:
        second = register(db, settings, people["anna"], **NEW)
    finally:
        history.EVENT_LISTENERS.add(similar.on_ticket_event)
    assert second not in [m.ticket_id for m in index.similar(text, scope="open", organization_id=org)]
    assert similar.catch_up(settings=settings) >= 1
    assert [m.ticket_id for m in index.similar(text, scope="open", organization_id=org)] == [second]


def test_a_merged_duplicate_is_never_offered_as_solved_nor_open(make, db, settings):
    """A duplicate merged into its original closes, but it solved nothing: only the original is offered."""
    from portal.search.similar.documents import TicketText
    from portal.tickets import merge

    catalogue(db)
    people = _people(make)
    original = register(db, settings, people["anna"], **SOLVED)
    duplicate = register(db, settings, people["anna"], **SOLVED)
    with db.session_scope() as s:
        merge.merge(session=s, settings=settings, duplicate=service.get_ticket(session=s, ticket_id=duplicate,
                                                                               user=load_user(s, people["sergey"])),
                    original_id=original, actor=load_user(s, people["sergey"]))
        org = load_user(s, people["anna"]).organization_id
    _resolve(db, settings, original, people["sergey"])
    _settled(settings)
    index = similar.backend(settings)
    text = TicketText(**NEW)
    assert [m.ticket_id for m in index.similar(text, scope="solved")] == [original]
    assert index.similar(text, scope="open", organization_id=org) == []

"""The similar-solved panel's minimum likeness (service.MIN_LIKENESS), measured on the labelled set on both backends.

Each of the 60 new tickets is looked up twice, as the panel looks (top SOLVED_LIMIT solved tickets, then the
minimum): once with its answer in the index — is the answer shown (recall), how much of what is shown is it
(precision) — and once with its answer left out (``exclude``), as when second line never solved it: anything
shown then is a weak match offered as if it were an answer. ``pytest tests/similar/test_threshold.py -s`` prints
the table docs/search.md «Похожие заявки» quotes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from portal.search.similar import service
from portal.search.similar.documents import TicketText
from tests.similar.conftest import labelled, solved_id
from tests.similar.pairs import PAIRS

CANDIDATES = (0.0, 0.05, 0.08, 0.1, 0.12, 0.14, 0.15, 0.16, 0.18, 0.2, 0.25, 0.3, 0.35)


@dataclass
class Looked:
    right: str
    found: list[tuple[str, float]]  # (ticket, likeness) with the answer in the index
    without: list[tuple[str, float]]  # …and with it left out


@dataclass
class Figures:
    recall: float  # the answer shown, of 60
    recall_first: float  # …and shown first
    precision: float  # of the tickets shown, the share that are the answer
    weak_lookups: int  # lookups without their answer that still show something, of 60
    weak_shown: int  # tickets they show


def look_up(index) -> list[Looked]:
    looked = []
    for n, (module, _solved, (summary, description)) in enumerate(PAIRS, 1):
        text = TicketText(summary=summary, description=description, module=module)
        found = index.similar(text, scope="solved", limit=service.SOLVED_LIMIT)
        without = index.similar(text, scope="solved", limit=service.SOLVED_LIMIT, exclude=solved_id(n))
        looked.append(Looked(solved_id(n), [(m.ticket_id, m.likeness) for m in found],
                             [(m.ticket_id, m.likeness) for m in without]))
    return looked


def figures(looked: list[Looked], minimum: float) -> Figures:
    shown_total = right_shown = first = weak_lookups = weak_shown = 0
    for one in looked:
        shown = [t for t, likeness in one.found if likeness >= minimum]
        shown_total += len(shown)
        right_shown += one.right in shown
        first += bool(shown) and shown[0] == one.right
        weak = [t for t, likeness in one.without if likeness >= minimum]
        weak_lookups += bool(weak)
        weak_shown += len(weak)
    n = len(looked)
    return Figures(right_shown / n, first / n, right_shown / shown_total if shown_total else 1.0, weak_lookups,
                   weak_shown)


@pytest.fixture(scope="module")
def looked(tmp_path_factory, similar_databases) -> dict[str, list[Looked]]:
    out = {}
    for backend in ("whoosh", "postgresql"):
        with labelled(backend, tmp_path_factory, similar_databases) as index:
            out[backend] = look_up(index)
    return out


def test_the_minimum_keeps_the_answers_and_drops_most_weak_matches(looked):
    for backend, results in looked.items():
        print(f"\n{backend}: minimum  recall@5  recall@1  precision  lookups without answer offering / tickets")
        for minimum in CANDIDATES:
            f = figures(results, minimum)
            mark = "  ← MIN_LIKENESS" if minimum == service.MIN_LIKENESS else ""
            print(f"  {minimum:.2f}  {f.recall:.3f}  {f.recall_first:.3f}  {f.precision:.3f}  "
                  f"{f.weak_lookups}/{len(results)} / {f.weak_shown}{mark}")
    for backend, results in looked.items():
        unfiltered, chosen = figures(results, 0.0), figures(results, service.MIN_LIKENESS)
        # With no minimum every lookup offers five tickets, its answer or not.
        assert unfiltered.weak_lookups == len(results) and unfiltered.weak_shown == 5 * len(results)
        # Measured 2026-12-02: recall 0.933, first 0.90/0.93, precision 0.37–0.38, 84–88 weak tickets shown;
        # the floors leave room for a pair lost to a change of analysis.
        assert chosen.recall >= 0.9 and chosen.recall_first >= 0.85, (backend, chosen)
        assert chosen.precision >= 0.33, (backend, chosen)
        assert chosen.weak_shown <= unfiltered.weak_shown * 0.35, (backend, chosen)


def test_both_backends_give_the_same_likeness(looked):
    """The minimum is one number for both backends: the likeness of a ticket to a lookup must not depend on the
    backend (Whoosh's document frequencies count replaced copies; its total must count them as well)."""
    whoosh = {(n, t): likeness for n, one in enumerate(looked["whoosh"]) for t, likeness in one.found}
    pg = {(n, t): likeness for n, one in enumerate(looked["postgresql"]) for t, likeness in one.found}
    common = whoosh.keys() & pg.keys()
    assert len(common) >= 200
    worst = max(common, key=lambda k: abs(whoosh[k] - pg[k]))
    assert abs(whoosh[worst] - pg[worst]) <= 0.05, (worst, whoosh[worst], pg[worst])
    assert sum(abs(whoosh[k] - pg[k]) for k in common) / len(common) <= 0.01


TYPED = dict(summary="Пропали сессии после обновления хрома", description="Консоль пишет refused to connect.")


def test_a_lone_weak_match_is_not_offered_on_the_page_nor_in_the_api(client, bearer, make, db, settings):
    """Few tickets: the only solved one shares a word or two with the new ticket («пропали», «обновления») but is
    another problem. Without a minimum the panel offered it as the best answer there is."""
    from tests.accounts.test_pages import login
    from tests.similar.test_pages import NEW, SOLVED, _people, _resolve, _settled, _take
    from tests.tickets.helpers import catalogue, register

    catalogue(db)
    people = _people(make)
    weak = register(db, settings, people["anna"], summary="Пропали графики в панели отчётов",
                    description="После обновления графики пустые.", steps_to_reproduce="Войти в раздел отчётов.",
                    module="Синтетический мониторинг (STM)")
    _resolve(db, settings, weak, people["sergey"])
    new = register(db, settings, people["petr"], **TYPED)
    _take(db, settings, new, people["sergey"])
    _settled(settings)
    index = service.backend(settings)
    seen = index.similar(TicketText(**TYPED), scope="solved")
    assert [m.ticket_id for m in seen] == [weak] and seen[0].likeness < service.MIN_LIKENESS  # found, yet weak

    r = bearer.get(people["sergey"], f"/api/v1/similar/tickets/{new}")
    assert r.status_code == 200 and r.json() == [], [(b["id"], b["likeness"]) for b in r.json()]
    login(client, "sergey")
    page = client.get(f"/tickets/{new}")
    assert page.status_code == 200 and f'data-ticket="{weak}"' not in page.text

    # The answer, once solved, is offered to a ticket that tells the same problem (and its likeness is in the API,
    # on the same scale on every backend).
    solved = register(db, settings, people["anna"], **SOLVED)
    _resolve(db, settings, solved, people["sergey"])
    second = register(db, settings, people["petr"], **NEW)
    _take(db, settings, second, people["sergey"])
    _settled(settings)
    body = bearer.get(people["sergey"], f"/api/v1/similar/tickets/{second}").json()
    assert [b["id"] for b in body] == [solved] and service.MIN_LIKENESS <= body[0]["likeness"] <= 1.0
    assert f'data-ticket="{solved}"' in client.get(f"/tickets/{second}").text

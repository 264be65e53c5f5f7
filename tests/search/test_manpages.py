"""Relevance on real text: Debian's Russian man pages as articles, natural queries (tests/search/manpages.py)."""

from __future__ import annotations

import pytest

from portal.search.index import PgIndex, SearchRequest, WhooshIndex
from tests.search import manpages
from tests.search.conftest import BACKENDS

# The floor reached (docs/search.md): the suite fails when the portal finds fewer in its top three.
TOP3_FLOOR = 86
TOP1_FLOOR = 70


@pytest.fixture(scope="module", params=BACKENDS)
def man_index(request, man_indexes) -> WhooshIndex | PgIndex:
    """The suite runs against each search backend (tests/search/conftest.py)."""
    return man_indexes[request.param]


def _slugs(index: WhooshIndex | PgIndex, text: str) -> list[str]:
    return [h.slug for h in index.search(SearchRequest(text=text, audiences=("public",), limit=10)).hits]


def test_the_corpus_is_real_and_large_enough(man_articles):
    assert len(man_articles) >= manpages.MIN_PAGES
    long_ones = [a for a in man_articles if len(a["body"]) >= 4000]
    assert len(long_ones) >= manpages.MIN_PAGES * 0.6
    slugs = {manpages.slug(a) for a in man_articles}
    assert {e for _, expected in manpages.QUERIES for e in expected} <= slugs
    assert len(manpages.QUERIES) >= 60


def test_every_page_is_indexed(man_index, man_articles):
    assert _slugs(man_index, "kill")[:1] == ["kill-2"]
    assert man_index.info()["articles"] == len(man_articles)


def test_top_three_stays_at_the_floor(man_index):
    result = manpages.evaluate(lambda text: _slugs(man_index, text))
    print(f"\nman pages: top-1 {result['top1']}/{result['n']}, top-3 {result['top3']}/{result['n']}, "
          f"MRR {result['mrr']:.3f}")
    for text, hits in result["misses"]:
        print(f"  miss: {text!r} → {hits}")
    assert result["top3"] >= TOP3_FLOOR, result["misses"]
    assert result["top1"] >= TOP1_FLOOR, result["misses"]

"""The relevance suite: Russian and English queries over the fixture corpus with their expected articles."""

from __future__ import annotations

import pytest

from portal.search.index import SearchRequest
from tests.search.conftest import CUSTOMER
from tests.search.corpus import RELEVANCE


def top(index, text: str, n: int = 3) -> list[str]:
    return [h.slug for h in index.search(SearchRequest(text=text, audiences=CUSTOMER, limit=n)).hits]


def test_the_suite_is_big_enough():
    assert len(RELEVANCE) >= 40
    assert sum(1 for q, _, _ in RELEVANCE if q.isascii()) >= 8  # English and codes too


@pytest.mark.parametrize(("text", "expected", "first"), RELEVANCE, ids=[q for q, _, _ in RELEVANCE])
def test_expected_article_is_in_the_top_three(corpus_index, text, expected, first):
    found = top(corpus_index, text)
    assert expected in found, f"{text!r} → {found}"
    if first:
        assert found[0] == expected, f"{text!r} → {found}"


def test_exact_code_outranks_prose_that_resembles_it(corpus_index):
    assert top(corpus_index, "5.2.1", 10)[0] == "upgrade-5-2-1"
    assert "release-5-2-10" not in top(corpus_index, "5.2.1", 10)
    assert top(corpus_index, "HTTP 502", 10) == ["http-502"]  # 504 mentions HTTP, not 502
    assert top(corpus_index, "0x80070005", 10) == ["agent-install-windows"]


def test_body_only_words_are_found(corpus_index):
    assert set(top(corpus_index, "маяки", 10)) == {"no-data-dashboard", "proxy-closed-network"}


def test_all_words_required_then_any_word(corpus_index):
    page = corpus_index.search(SearchRequest(text="капча квазипустослово", audiences=CUSTOMER))
    assert page.matched == "any" and page.hits[0].slug == "captcha"
    page = corpus_index.search(SearchRequest(text="капча входа", audiences=CUSTOMER))
    assert page.matched == "all"


def test_did_you_mean(corpus_index):
    page = corpus_index.search(SearchRequest(text="ашибка авторизации", audiences=CUSTOMER))
    assert page.suggestion == "ошибка авторизации" and page.corrected
    assert corpus_index.search(SearchRequest(text="ошибка авторизации", audiences=CUSTOMER)).suggestion is None


def test_word_forms_highlighted_and_text_escaped(corpus_index):
    page = corpus_index.search(SearchRequest(text="запуск", audiences=CUSTOMER))
    first = next(h for h in page.hits if h.slug == "agent-not-starting")
    assert "<mark>запускается</mark>" in first.snippet
    page = corpus_index.search(SearchRequest(text="сниппет head", audiences=CUSTOMER))
    snippet = next(h for h in page.hits if h.slug == "snippet-install").snippet
    assert "&lt;<mark>head</mark>&gt;" in snippet and "<script" not in snippet

"""What the PostgreSQL search reads for scoring and spelling is what is stored: the candidates' term frequencies come
back as one text value, the terms near a typo are found through the primary key with a filter that drops none of
them, and a typo's search skips scoring the page its correction replaces without changing the answer."""

from __future__ import annotations

import random

from sqlalchemy import text

from portal.search import query as sq
from portal.search.index import PgIndex, SearchRequest, ranking
from portal.search.index.pg_backend import _pieces, at_least, within
from portal.search.index.protocol import SearchPage
from tests.search.conftest import CUSTOMER


def pg_index(settings, search_databases) -> PgIndex:
    return PgIndex(settings.model_copy(update={"database_url": search_databases.create(),
                                               "search_backend": "postgresql"}), cache_pages=False)


def stored_frequencies(index: PgIndex, reader) -> dict[int, dict]:
    """{document: its stored ``tf`` map} of the reader's generation, read straight from the table."""
    with index.engine.connect() as conn:
        return {doc: tf for doc, tf in conn.execute(text(
            "SELECT id, tf FROM search_documents WHERE generation = :g"), {"g": reader.generation.id})}


def test_scored_frequencies_are_the_stored_ones(settings, kb, search_databases):
    index = pg_index(settings, search_databases)
    try:
        index.rebuild()
        reader = index._current()
        stored = stored_frequencies(index, reader)
        docs = sorted(stored)
        terms = {"text": ["агент", "~агент", "сертификат", "нет-такого-слова"], "title_terms": ["агент", "ошибк"],
                 "codes": ["0x80070005"]}
        found = reader.scored(docs, terms)
        expected = {(f, t): {doc: float(tf[f][t]) for doc, tf in stored.items() if t in tf.get(f, {})}
                    for f, ts in terms.items() for t in ts}
        assert found == expected
        assert found[("text", "агент")] and found[("codes", "0x80070005")]
        assert found[("text", "нет-такого-слова")] == {}
        assert reader.scored([], terms) == {key: {} for key in expected}
    finally:
        index.close()


def test_frequencies_kept_by_the_version_are_the_stored_ones_and_answers_do_not_change(settings, kb,
                                                                                      search_databases):
    """A version keeps the frequencies it fetched (``PgReader.scored``): asked in parts, in another order, with
    terms already seen and new ones, it gives what the database gives; searches answered after others (their
    frequencies partly kept) equal a fresh version's."""
    index = pg_index(settings, search_databases)
    try:
        index.rebuild()
        reader = index._current()
        stored = stored_frequencies(index, reader)
        docs = sorted(stored)
        half, rest = docs[::2], docs[1::2]
        first = {"text": ["агент", "сертификат"], "title_terms": ["агент"]}
        both = {"text": ["агент", "сертификат", "прокси"], "title_terms": ["агент", "ошибк"]}

        def expected(terms, among):
            return {(f, t): {doc: float(stored[doc][f][t]) for doc in among if t in stored[doc].get(f, {})}
                    for f, ts in terms.items() for t in ts}

        def restricted(found, among):
            return {key: {doc: value for doc, value in held.items() if doc in among} for key, held in found.items()}

        assert restricted(reader.scored(half, first), set(half)) == expected(first, half)
        assert restricted(reader.scored(docs, both), set(docs)) == expected(both, docs)  # half kept, half fetched
        assert restricted(reader.scored(rest, both), set(rest)) == expected(both, rest)  # all kept
        texts = ["агент не отправляет данные", "ошибка сертификата", "агент", "прокси сервер агент"]
        warm = [index.search(SearchRequest(text=t, audiences=CUSTOMER)) for t in texts + texts[::-1]]
    finally:
        index.close()
    fresh = PgIndex(settings.model_copy(update={"database_url": index.settings.database_url,
                                                 "search_backend": "postgresql"}), cache_pages=False)
    try:
        cold = [fresh.search(SearchRequest(text=t, audiences=CUSTOMER)) for t in texts + texts[::-1]]
    finally:
        fresh.close()
    assert [[(h.path, h.score) for h in page.hits] for page in warm] == \
        [[(h.path, h.score) for h in page.hits] for page in cold]
    assert any(page.hits for page in warm)


def test_the_pieces_filter_keeps_every_term_within_the_distance():
    words = ["ашибка", "сертефикат", "квазиконсаль", "агнет", "прокси"]
    terms = ["ошибка", "ошибки", "шибка", "сертификат", "сертификата", "квазиконсоль", "агент", "агенты", "прокси",
             "прокся", "пркси", "рокси", "ашибкаа", "abcdef"]
    for word in words:
        for maxdist in (1, 2):
            for term in terms:
                if within(word, term, maxdist):
                    assert any(piece in term for piece in _pieces(word, maxdist)), (word, term, maxdist)
    assert _pieces("ашибка", 2) == ["аш", "иб", "ка"]
    assert _pieces("ab", 2) == [""]  # too short to cut: every term is checked


def test_near_finds_what_a_scan_of_every_term_finds(settings, kb, search_databases):
    index = pg_index(settings, search_databases)
    try:
        index.rebuild()
        reader = index._current()
        for field in ("spell:public", "spell:customers"):
            with index.engine.connect() as conn:
                every = dict(conn.execute(text(
                    "SELECT term, count FROM search_terms WHERE generation = :g AND field = :f"),
                    {"g": reader.generation.id, "f": field}).all())
            for word in ["ашибка", "сертефикат", "агнет", "сертификат", "зкспорт"]:
                for maxdist in (1, 2):
                    for prefix in (1, 0):
                        expected = sorted((t, n) for t, n in every.items()
                                          if t.startswith(word[:prefix]) and within(word, t, maxdist))
                        assert sorted(reader.near(field, word, maxdist, prefix)) == expected, (field, word, prefix)
        assert "ошибка" in dict(reader.near("spell:public", "ашибка", 2, 0))  # a first-letter typo finds it
    finally:
        index.close()


def test_a_typo_is_answered_as_its_correction_without_scoring_the_page_it_replaces(settings, kb, search_databases):
    index = pg_index(settings, search_databases)
    try:
        page = index.search(SearchRequest(text="ашибка авторизации", audiences=CUSTOMER))
        fixed = index.search(SearchRequest(text="ошибка авторизации", audiences=CUSTOMER))
        assert page.corrected and page.suggestion == "ошибка авторизации"
        assert [h.slug for h in page.hits] == [h.slug for h in fixed.hits] and page.hits
        assert [h.score for h in page.hits] == [h.score for h in fixed.hits]
    finally:
        index.close()


def answered(pages: dict[tuple[str, bool], SearchPage], corrections: dict[str, str], *, probed: bool):
    """ranking.answer over given pages: the answer and the attempts it made."""
    attempts: list[tuple[str, bool]] = []

    def attempt(parsed, require_all):
        attempts.append((parsed.text(), require_all))
        found = pages[(parsed.text(), require_all)]
        return SearchPage(total=found.total, hits=[], facets={}, matched=found.matched)

    def probe(parsed):
        found = pages[(parsed.text(), True)]
        return found.total, found.matched

    page = ranking.answer(sq.parse("ашибка входа"), attempt, lambda: SearchPage(total=0, hits=[], facets={}),
                          lambda known: corrections.get("ашибка входа"), probe if probed else None)
    return (page.total, page.matched, page.suggestion, page.corrected), attempts


def test_the_probe_changes_no_answer_only_the_attempts_made():
    any_page = SearchPage(total=30, hits=[], facets={}, matched="any")
    cases = [
        # the correction holds every word: the page it replaces is never scored
        ({("ашибка входа", True): any_page, ("ошибка входа", True): SearchPage(5, [], {}, matched="all")},
         {"ашибка входа": "ошибка входа"}, 1),
        # it does not: the page with the typo is the answer, the correction its suggestion (tried once)
        ({("ашибка входа", True): any_page, ("ошибка входа", True): SearchPage(5, [], {}, matched="any")},
         {"ашибка входа": "ошибка входа"}, 2),
        # nothing to correct
        ({("ашибка входа", True): any_page}, {}, 1),
    ]
    for pages, corrections, with_probe in cases:
        plain, plain_attempts = answered(pages, corrections, probed=False)
        probed, probed_attempts = answered(pages, corrections, probed=True)
        assert probed == plain
        assert len(probed_attempts) == with_probe
        assert ("ашибка входа", True) in plain_attempts
    assert answered(*cases[0][:2], probed=True)[1] == [("ошибка входа", True)]


def test_at_least_is_a_count_per_document():
    chooser = random.Random(5)
    for _trial in range(200):
        size, n = chooser.randint(1, 300), chooser.randint(1, 9)
        sets = [{d for d in range(size) if chooser.random() < chooser.random()} for _ in range(n)]
        masks = [sum(1 << d for d in found) for found in sets]
        for need in range(n + 2):
            expected = {d for d in range(size) if sum(d in found for found in sets) >= need}
            assert at_least(masks, need, (1 << size) - 1) == sum(1 << d for d in expected), (size, n, need)


def test_a_query_of_several_concepts_matches_what_a_count_per_document_matches(settings, kb, search_databases):
    index = pg_index(settings, search_databases)
    try:
        index.rebuild()
        reader = index._current()
        allowed = reader.docs(sq.restriction(CUSTOMER, {}))
        found_any = []
        for words in ["агент не отправляет данные после обновления", "ошибка сертификат агент прокси",
                      "экспорт отчёт дашборд график пустой", "агент сертификат ошибка установка служба"]:
            parsed = sq.parse(words)
            parts = index._parts(reader, parsed, index.synonyms(reader.commit))
            sets = [reader.docs(part) for part in parts]
            matched, _counts, _kind = index._matches(reader, parsed, parts, allowed, require_all=True)
            need = ranking.minimum_should_match(len(parts), exact=False)
            assert 1 < need < len(parts)  # the path of the masks
            assert matched == {d for d in allowed if sum(d in found for found in sets) >= need}, words
            assert matched != allowed
            found_any.append(bool(matched))
        assert any(found_any)
    finally:
        index.close()

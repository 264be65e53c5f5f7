"""Phrases on the PostgreSQL backend are answered from the pairs of neighbouring terms (``pairs_vec``) exactly as the
positions in the text's tsvector answer them — for the fixture corpus' own phrases and for a text past PostgreSQL's
caps on positions — and a generation built without pairs still answers them by positions."""

from __future__ import annotations

import random

from sqlalchemy import create_engine, event, text
from whoosh import query as wq

from portal.search import analysis
from portal.search import query as sq
from portal.search.index import PgIndex, SearchRequest, ranking
from portal.search.index.pg_backend import PgReader
from portal.search.index.pg_documents import MAX_POSITION, Analyzers, lexeme, pair, pairable, pairs_vector
from tests.search.conftest import SEARCH_PG_SERVER, STAFF


def pg_index(settings, search_databases) -> PgIndex:
    return PgIndex(settings.model_copy(update={"database_url": search_databases.create(),
                                               "search_backend": "postgresql"}), cache_pages=False)


def corpus_phrases(index: PgIndex, generation: int) -> list[list[str]]:
    """Runs of two and three terms standing next to each other in the corpus' texts, the same runs reversed (mostly
    found nowhere) and runs of words that are both in an article but apart."""
    with index.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT d.id, u.lexeme, p FROM search_documents d, unnest(d.text_vec) u, unnest(u.positions) p "
            "WHERE d.generation = :g ORDER BY d.id, p"), {"g": generation}).all()
    by_position: dict[tuple[int, int], list[str]] = {}
    for doc, term, position in rows:
        if pairable(term):
            by_position.setdefault((doc, position), []).append(term)
    runs: set[tuple[str, ...]] = set()
    for (doc, position), terms in by_position.items():
        second = by_position.get((doc, position + 1), [])
        third = by_position.get((doc, position + 2), [])
        far = by_position.get((doc, position + 3), [])
        for a in terms:
            runs.update((a, b) for b in second)
            runs.update((a, b, c) for b in second for c in third)
            runs.update((a, c) for c in far)
    chosen = random.Random(7).sample(sorted(runs), 300)
    return [list(run) for run in chosen] + [list(reversed(run)) for run in chosen[:100]]


def test_phrases_from_pairs_are_those_of_positions(settings, kb, search_databases):
    index = pg_index(settings, search_databases)
    try:
        index.rebuild()
        reader = index._current()
        assert reader.generation.pairs
        phrases = corpus_phrases(index, reader.generation.id)
        found = 0
        for words in phrases:
            by_pairs = reader.docs(wq.Phrase("text", words))
            by_positions = reader._matching("text_vec @@ CAST(:q AS tsquery)",
                                            {"q": " <-> ".join(lexeme(w) for w in words)})
            assert by_pairs == by_positions, words
            found += bool(by_positions)
        assert 200 <= found < len(phrases)  # found phrases and absent ones both checked
    finally:
        index.close()


def test_pairs_follow_the_positions_the_tsvector_keeps_past_its_caps():
    """Past position 16,383 every term sits at 16,383, and a term keeps only its first 255 positions: the pairs are
    taken from what the tsvector keeps, so they still agree with its phrase operator."""
    common = ["агент", "данные", "обновление", "пакет", "сервер", "ошибка"]
    chooser = random.Random(3)
    body = " ".join(chooser.choice(common) if i % 2 else f"узел{i}" for i in range(MAX_POSITION + 600))
    analyzers = Analyzers(analysis.DEFAULT_MODE)
    vector, _tf, _length, held = analyzers._tokens("text", body)
    assert max(held) == MAX_POSITION and len(held[MAX_POSITION]) > 100  # both caps reached
    pairs = pairs_vector(held)
    rare = {term for term in held[MAX_POSITION] if term.startswith("узел")}
    terms = sorted({term for found in held.values() for term in found if not term.startswith("узел")}
                   | set(chooser.sample(sorted(rare), 20))
                   | {term for position in (1, 2, 3, MAX_POSITION - 2, MAX_POSITION - 1)
                      for term in held.get(position, ())})
    assert len(terms) > 25
    asked = [(a, b) for a in terms for b in terms]
    engine = create_engine(SEARCH_PG_SERVER)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT CAST(:v AS tsvector) @@ phrase, CAST(:p AS tsvector) @@ pair "
                "FROM unnest(CAST(:phrases AS tsquery[]), CAST(:pairs AS tsquery[])) AS asked(phrase, pair)"),
                {"v": vector, "p": pairs, "phrases": [f"{lexeme(a)} <-> {lexeme(b)}" for a, b in asked],
                 "pairs": [lexeme(pair(a, b)) for a, b in asked]}).all()
    finally:
        engine.dispose()
    assert len(rows) == len(asked)
    differing = [ab for ab, (by_positions, by_pairs) in zip(asked, rows, strict=True) if by_positions != by_pairs]
    assert not differing
    assert 0 < sum(by_pairs for _by_positions, by_pairs in rows) < len(rows)


def test_a_generation_without_pairs_answers_phrases_by_positions(settings, kb, search_databases):
    index = pg_index(settings, search_databases)
    try:
        index.rebuild()
        reader = index._current()
        phrases = corpus_phrases(index, reader.generation.id)[:60]
        with_pairs = {tuple(w): reader.docs(wq.Phrase("text", w)) for w in phrases}
        request = SearchRequest(text='"пакет обновлений" агент', audiences=STAFF)
        page = index.search(request)
        with index.engine.begin() as conn:  # as a generation written before migration 0020 is
            conn.execute(text("UPDATE search_documents SET pairs_vec = NULL WHERE generation = :g"),
                         {"g": reader.generation.id})
            conn.execute(text("UPDATE search_generations SET pairs = false, stamp = stamp + 1 WHERE id = :g"),
                         {"g": reader.generation.id})
        reader = index._current()
        assert not reader.generation.pairs
        assert {tuple(w): reader.docs(wq.Phrase("text", w)) for w in phrases} == with_pairs
        assert index.search(request) == page
    finally:
        index.close()


def test_prefetching_a_querys_terms_is_one_statement_with_the_same_documents(settings, kb, search_databases):
    index = pg_index(settings, search_databases)
    try:
        index.rebuild()
        reader = index._current()
        parsed = sq.parse('агент не отправляет данные "пакет обновлений" сертификат 0x80070005 экспорт*')
        parts = sq.nodes(parsed, index.mode, index.synonyms(reader.commit))
        queries = [*parts, *(ranking.to_title(p) for p in parts), *(ranking.in_title(p) for p in parts)]
        one_by_one = [reader.docs(q) for q in queries]
        fresh = PgReader(index.engine, reader.generation)
        statements: list[str] = []
        event.listen(index.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        fresh.prefetch(queries)
        assert len(statements) == 1
        assert [fresh.docs(q) for q in queries] == one_by_one
        assert len(statements) == 1  # every look-up was answered by the prefetch
        assert any(one_by_one) and not all(one_by_one)
    finally:
        index.close()

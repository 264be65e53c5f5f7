"""The bound on scored candidates (ranking.candidates, ranking.likeliest) over real indexes of both backends: which
documents of a tier larger than the bound are scored, and that both backends choose the same ones.

The corpus is built so that each rule decides some of the choice: a concept in the title beats any number held
in the body, a rare concept beats a common one, both concepts beat one, and the shortest text settles the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from whoosh import query as wq

from portal.config import Settings
from portal.content import ContentRepo
from portal.search import query as sq
from portal.search.index import PgIndex, SearchRequest, WhooshIndex, pg_backend, ranking
from tests.conftest import TEST_SECRET
from tests.search.conftest import BACKENDS, CUSTOMER, PROJECT_SYNONYMS, index_of
from tests.search.corpus import article_text

FILLER = "Описание настройки мониторинга для сотрудников поддержки."


def spec(group: str, n: int, title: str, body: str) -> dict:
    return dict(path=f"kb/platform/{group}-{n:03d}.md", title=title, summary="Заметка.", kind="howto",
                module="platform", product_versions=["5.2.0"], tags=[], body=body)


def articles() -> list[dict]:
    """Groups of the query «прокси сертификат» (прокси is common: ~360 articles; сертификат rare: ~70):
    titled — сертификат in the title; both — both words in the body, long; rare — only сертификат, of growing
    length; common — only прокси, short."""
    out = []
    out += [spec("titled", i, f"Сертификат узла номер {i}", f"Прокси узла {i}. {FILLER * 6}") for i in range(6)]
    out += [spec("both", i, f"Заметка об узле {i}", f"Прокси и сертификат узла {i}. {FILLER * 12}")
            for i in range(20)]
    out += [spec("rare", i, f"Заметка о шлюзе {i}", f"Сертификат шлюза {i}. {FILLER * (1 + i)}") for i in range(40)]
    out += [spec("common", i, f"Заметка о сервере {i}", f"Прокси сервера {i}.") for i in range(340)]
    return out


@pytest.fixture(scope="module")
def bound_settings(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("candidates-home")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'unused.db'}", secret_key=TEST_SECRET,
                        run_jobs=False)
    repo = ContentRepo(settings)
    repo.ensure()
    with repo.repo() as git_repo:
        existing = [p for p in git_repo.git.ls_files("kb").splitlines() if p.endswith(".md")]
    files: dict[str, str | None] = {p: None for p in existing}
    files.update({a["path"]: article_text(a) for a in articles()})
    files["kb/synonyms.txt"] = PROJECT_SYNONYMS.read_text(encoding="utf-8")
    with repo.write_lock():
        repo.commit_files(files=files, message="Статьи для проверки границы кандидатов")
    return settings


@pytest.fixture(scope="module", params=BACKENDS)
def bound_index(request, bound_settings, search_databases) -> Iterator[WhooshIndex | PgIndex]:
    index = index_of(request.param, bound_settings, search_databases)
    index.rebuild()
    yield index
    index.close()


@contextlib.contextmanager
def lexicon_of(index: WhooshIndex | PgIndex) -> Iterator[tuple[ranking.Lexicon, dict[int, str]]]:
    """The index's lexicon and the slug of every document number."""
    if isinstance(index, WhooshIndex):
        with index.searcher() as (searcher, reader):
            names = {doc: fields["meta"]["slug"] for doc, fields in searcher.reader().iter_docs()}
            yield ranking.SearcherLexicon(searcher, reader), names
    else:
        with index._reading() as reader:
            yield reader, {doc: meta["slug"] for doc, (meta, _body) in reader.stored(sorted(reader.all)).items()}


def concepts(index: WhooshIndex | PgIndex, text: str) -> list[wq.Query]:
    parsed = sq.parse(text)
    return sq.nodes(parsed, index.mode, index.synonyms(index.source.head()))


def chosen(index: WhooshIndex | PgIndex, text: str, bound: int) -> list[str]:
    with lexicon_of(index) as (lexicon, names):
        parts = concepts(index, text)
        matched: set[int] = set()
        for part in parts:
            matched |= lexicon.docs(part)
        return sorted(names[d] for d in ranking.likeliest(lexicon, parts, matched, bound))


def test_title_then_rare_concept_then_both_then_the_shortest(bound_index):
    titled = [f"titled-{i:03d}" for i in range(6)]
    both = [f"both-{i:03d}" for i in range(20)]
    rare = [f"rare-{i:03d}" for i in range(40)]
    # Titles first, then both words, then the rare word alone (the shortest of those: the first ten).
    assert chosen(bound_index, "прокси сертификат", 36) == sorted(titled + both + rare[:10])
    # Within the bound all titled articles come before any of the rest.
    assert set(chosen(bound_index, "прокси сертификат", 4)) <= set(titled)
    # A one-word query: every match holds the word, none in a title; the shortest texts are chosen.
    shortest = chosen(bound_index, "прокси", 50)
    assert len(shortest) == 50 and all(name.startswith("common-") for name in shortest)


def test_both_backends_choose_the_same(bound_settings, search_databases):
    indexes = [index_of(backend, bound_settings, search_databases) for backend in BACKENDS]
    try:
        for index in indexes:
            index.rebuild(force=False)
        for text, bound in (("прокси сертификат", 36), ("прокси сертификат", 100), ("прокси", 50),
                            ("сертификат узла", 10)):
            found = [chosen(index, text, bound) for index in indexes]
            assert found[0] == found[1], (text, bound)
            assert len(found[0]) == bound
    finally:
        for index in indexes:
            index.close()


def test_candidates_never_exceed_the_bound_and_keep_the_small_tiers(bound_index):
    with lexicon_of(bound_index) as (lexicon, names):
        parts = concepts(bound_index, "прокси сертификат")
        q = wq.And(parts)
        matched = frozenset().union(*(lexicon.docs(part) for part in parts))
        assert len(matched) > ranking.SCORE_LIMIT
        # The tier of «any concept in the title» (six articles) is below the page, so the tiers give every match;
        # the bound then cuts them to its size, the titled ones among them.
        pool = ranking.candidates(lexicon, q, matched, want=10, bound=50)
        assert len(pool) == 50
        assert {f"titled-{i:03d}" for i in range(6)} <= {names[d] for d in pool}
        assert ranking.candidates(lexicon, q, matched, want=10, bound=10_000) == matched


def test_a_search_past_the_bound_finds_what_scoring_everything_finds(bound_index, monkeypatch):
    """The page of a search whose matches exceed the bound is the page of scoring every match."""
    request = SearchRequest(text="прокси сертификат", audiences=CUSTOMER, limit=10)
    monkeypatch.setattr(bound_index, "cache_pages", False)
    monkeypatch.setattr(ranking, "MAX_CANDIDATES", 30)  # the corpus's 406 matches past it
    bounded = [h.slug for h in bound_index.search(request).hits]
    monkeypatch.setattr(ranking, "MAX_CANDIDATES", 100_000)
    everything = [h.slug for h in bound_index.search(request).hits]
    assert bounded == everything
    assert len(bounded) == 10 and bounded[:6] == sorted(bounded[:6]) and bounded[0].startswith("titled-")


def test_facets_counted_as_bit_masks_equal_the_counts_of_sets(bound_settings, search_databases, monkeypatch):
    """Many matches are counted with bit masks (PgReader.facet_counts); the counts are those of intersecting sets."""
    index = index_of("postgresql", bound_settings, search_databases)
    try:
        index.rebuild(force=False)
        with index._reading() as reader:
            everything = set(reader.all)
            samples = [everything, {d for d in everything if d % 3}, set(sorted(everything)[:7]), set()]
            monkeypatch.setattr(pg_backend, "FACET_MASK_FROM", 10**9)
            by_sets = [reader.facet_counts(docs) for docs in samples]
            monkeypatch.setattr(pg_backend, "FACET_MASK_FROM", 0)
            by_masks = [reader.facet_counts(docs) for docs in samples]
        assert by_masks == by_sets
        assert by_sets[0]["module"] == [{"value": "platform", "count": len(everything)}]
        assert sum(c["count"] for c in by_sets[1]["kind"]) == len(samples[1])
    finally:
        index.close()

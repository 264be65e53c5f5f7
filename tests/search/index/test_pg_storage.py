"""The PostgreSQL index's rows are narrow: their wide values (tsvectors, term frequencies, body, stored fields) live
out of line, so finding a word's documents visits few table blocks (migration 0019_search_pg_narrow_rows)."""

from __future__ import annotations

from sqlalchemy import text

from portal.config import Settings
from portal.content import ContentRepo
from portal.search.index import PgIndex, SearchRequest
from tests.conftest import TEST_SECRET
from tests.search.conftest import CUSTOMER, PROJECT_SYNONYMS
from tests.search.corpus import article_text

WORDS = ["агент", "коллектор", "сертификат", "прокси", "сценарий", "отчёт", "панель", "сеанс", "маяк", "лицензия"]


def long_article(n: int) -> dict:
    body = " ".join(f"{WORDS[(n + i) % len(WORDS)]}{i % 97} проверка номер {i}." for i in range(400))
    return dict(path=f"kb/platform/long-{n:03d}.md", title=f"Длинная статья {n} об агенте", summary="Заметка.",
                kind="howto", module="platform", product_versions=["5.2.0"], tags=[], body=body)


def test_rows_keep_wide_values_out_of_line(tmp_path, search_databases):
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'unused.db'}", secret_key=TEST_SECRET,
                        run_jobs=False)
    repo = ContentRepo(settings)
    repo.ensure()
    files: dict[str, str | None] = {a["path"]: article_text(a) for a in map(long_article, range(40))}
    files["kb/synonyms.txt"] = PROJECT_SYNONYMS.read_text(encoding="utf-8")
    with repo.write_lock():
        repo.commit_files(files=files, message="Длинные статьи")
    index = PgIndex(settings.model_copy(update={"database_url": search_databases.create(),
                                                "search_backend": "postgresql"}))
    try:
        index.rebuild()
        with index.engine.connect() as conn:
            options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'search_documents'")).scalar()
            heap, whole, rows = conn.execute(text(
                "SELECT pg_relation_size('search_documents'), pg_total_relation_size('search_documents'), "
                "(SELECT count(*) FROM search_documents)")).one()
            # The values every reader loads for all rows stay inline (loading a version would otherwise read the
            # TOAST table row by row); the wide ones do not.
            storage = dict(conn.execute(text(
                "SELECT attname, attstorage FROM pg_attribute WHERE attrelid = 'search_documents'::regclass "
                "AND attname IN ('tags', 'versions', 'lengths', 'path', 'text_vec', 'tf')")).all())
        assert "toast_tuple_target=128" in (options or [])
        assert storage == {"tags": "m", "versions": "m", "lengths": "m", "path": "m", "text_vec": "x", "tf": "x"}
        assert rows >= 40
        # Inline, each row would be several kilobytes (nine blocks for these): out of line, forty fit in three.
        assert heap <= 4 * 8192, heap
        assert whole > 10 * heap
        page = index.search(SearchRequest(text="агент", audiences=CUSTOMER))
        assert page.total >= 40 and page.hits[0].snippet
    finally:
        index.close()


def test_a_rebuild_that_drops_a_generation_vacuums_its_rows(settings, kb, search_databases):
    """The dropped generation's rows would stay in the GIN indexes (and be visited by every first look at a word)
    until a vacuum; the rebuild that drops one vacuums the table."""
    index = PgIndex(settings.model_copy(update={"database_url": search_databases.create(),
                                                "search_backend": "postgresql"}))
    try:
        def vacuumed():
            with index.engine.connect() as conn:
                return conn.execute(text("SELECT last_vacuum FROM pg_stat_user_tables "
                                         "WHERE relname = 'search_documents'")).scalar()

        index.rebuild()
        index.rebuild()  # the first is kept as the one before: nothing dropped yet
        assert vacuumed() is None
        index.rebuild()
        assert vacuumed() is not None
        with index.engine.connect() as conn:
            assert conn.execute(text("SELECT count(DISTINCT generation) FROM search_documents")).scalar() == 2
    finally:
        index.close()

"""The index life cycle on a real disk and real git: incremental updates, rebuilds, locks, readers during writes."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from filelock import FileLock
from whoosh import index as windex

from portal.errors import Conflict
from portal.knowledge import hooks
from portal.search.index import IndexStore, SearchRequest, WhooshIndex, backend
from portal.search.index import whoosh_backend as search_index
from tests.search.conftest import CUSTOMER, STAFF, commit
from tests.search.corpus import article_text


def slugs(index, text, audiences=STAFF, **kw):
    return [h.slug for h in index.search(SearchRequest(text=text, audiences=audiences, limit=50, **kw)).hits]


def new_article(path="kb/rum/beacon-loss.md", title="Потеря маяков при закрытии вкладки", status="published",
                visibility="public", body="Маяки теряются, если вкладка закрывается до отправки.", **extra):
    return {path: article_text(dict(path=path, title=title, summary="Часть сеансов обрывается.", kind="problem",
                                    module="rum", product_versions=["5.2.1"], tags=["маяки"], status=status,
                                    visibility=visibility, body=body, **extra))}


def test_index_records_its_commit_and_builds_itself_when_missing(settings, kb):
    index = WhooshIndex(settings)
    assert IndexStore(settings.index_path).current() is None
    assert slugs(index, "капча") == ["captcha"]
    assert index.info()["commit"] == kb
    assert index.info()["articles"] == 29  # drafts and archived articles are not indexed
    assert slugs(index, "черновикслово") == [] and slugs(index, "архивноеслово") == []


def test_publish_and_archive_update_the_index_through_the_hook(settings, content_repo, kb):
    import portal.search  # noqa: F401  (registers the hook, as the app and the CLI do)

    index = backend(settings)
    assert slugs(index, "вкладки") == []
    sha = commit(content_repo, new_article())
    hooks.articles_changed(settings=settings, commit=sha, slugs=["beacon-loss"])
    assert index.info()["commit"] == sha
    assert slugs(index, "закрытие вкладки")[:1] == ["beacon-loss"]  # first: the other holds one of the words
    sha = commit(content_repo, new_article(status="archived"))
    hooks.articles_changed(settings=settings, commit=sha, slugs=["beacon-loss"])
    assert "beacon-loss" not in slugs(index, "закрытие вкладки")
    # a deleted file disappears too
    sha = commit(content_repo, {"kb/stm/captcha.md": None})
    hooks.articles_changed(settings=settings, commit=sha, slugs=["captcha"])
    assert slugs(index, "капча") == []


def test_the_hook_leaves_a_missing_index_to_the_first_search(settings, content_repo, kb):
    import portal.search  # noqa: F401

    sha = commit(content_repo, new_article())
    hooks.articles_changed(settings=settings, commit=sha, slugs=["beacon-loss"])
    assert IndexStore(settings.index_path).current() is None  # publishing stays cheap without an index
    assert slugs(backend(settings), "вкладки") == ["beacon-loss"]


def test_a_commit_without_the_hook_is_noticed_from_head(settings, content_repo, kb):
    index = WhooshIndex(settings)
    assert slugs(index, "вкладки") == []
    commit(content_repo, new_article())  # e.g. `git pull` of a remote, or another process without search
    fresh = WhooshIndex(settings)  # a new process: its first search compares the index with HEAD
    assert slugs(fresh, "вкладки") == []  # answered at once from the index as it is; the catch-up runs behind
    fresh.settle()
    assert slugs(fresh, "вкладки") == ["beacon-loss"]
    index._head_checked = 0.0  # the old one notices on its next periodic look at HEAD
    slugs(index, "вкладки")
    index.settle()
    assert slugs(index, "вкладки") == ["beacon-loss"]


def test_a_search_during_a_long_catch_up_answers_from_the_version_it_has(settings, content_repo, kb):
    index = WhooshIndex(settings)
    assert slugs(index, "капча") == ["captcha"]
    sha = commit(content_repo, {"kb/stm/captcha.md": None, **new_article()})
    events = []
    # Another writer holds Whoosh's own lock of the live index: the catch-up started by the search below waits
    # for it (up to WHOOSH_LOCK_TIMEOUT) inside its thread.
    held = windex.open_dir(str(IndexStore(settings.index_path).current())).writer()
    try:
        index._head_checked = 0.0
        found = slugs(index, "капча")
        events.append(("search answered", found))
        assert index.info()["commit"] == kb  # the catch-up has not got through yet
        events.append(("other writer done", None))
    finally:
        held.cancel()
    index.settle()
    events.append(("caught up", index.info()["commit"]))
    assert events == [("search answered", ["captcha"]), ("other writer done", None), ("caught up", sha)]
    assert slugs(index, "капча") == [] and slugs(index, "вкладки") == ["beacon-loss"]


def test_rebuilds_after_the_index_is_deleted_or_corrupted(settings, kb):
    index = WhooshIndex(settings)
    assert slugs(index, "капча") == ["captcha"]
    shutil.rmtree(settings.index_path)
    assert slugs(index, "капча") == ["captcha"]
    gen = IndexStore(settings.index_path).current()
    for toc in gen.glob("_MAIN_*.toc"):
        toc.write_bytes(b"garbage")
    assert slugs(WhooshIndex(settings), "капча") == ["captcha"]
    (IndexStore(settings.index_path).current() / "portal.json").write_text("{not json")
    assert slugs(WhooshIndex(settings), "капча") == ["captcha"]


def test_rebuild_swaps_a_new_generation_in_and_keeps_one_before(settings, kb):
    index = WhooshIndex(settings)
    first = index.rebuild()
    gen1 = IndexStore(settings.index_path).current()
    index.rebuild()
    gen2 = IndexStore(settings.index_path).current()
    index.rebuild()
    gen3 = IndexStore(settings.index_path).current()
    assert len({gen1, gen2, gen3}) == 3
    assert not gen1.exists() and gen2.exists() and gen3.exists()
    assert first["commit"] == kb


def test_search_keeps_answering_during_a_rebuild_and_writes(settings, content_repo, kb):
    index = WhooshIndex(settings)
    assert slugs(index, "капча") == ["captcha"]
    errors, answers = [], []
    stop = threading.Event()

    def reader():
        other = backend(settings)
        while not stop.is_set():
            try:
                found = [h.slug for h in other.search(SearchRequest(text="капча", audiences=CUSTOMER)).hits]
                answers.append(found)
            except Exception as exc:  # pragma: no cover - the assertion below reports it
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(3):
            sha = commit(content_repo, new_article(path=f"kb/rum/new-{n}.md", title=f"Новая статья {n}"))
            hooks.articles_changed(settings=settings, commit=sha, slugs=[f"new-{n}"])
            index.rebuild()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert errors == []
    assert answers and all(a == ["captcha"] for a in answers)
    assert sorted(slugs(index, "новая статья")[:3]) == ["new-0", "new-1", "new-2"]


def test_writers_wait_for_each_other_across_processes(settings, content_repo, kb):
    index = WhooshIndex(settings)
    index.rebuild()
    commit(content_repo, new_article())
    held, release = threading.Event(), threading.Event()

    def other_writer():  # flock: another open file, as another process would hold it
        with FileLock(str(settings.locks_path / f"{search_index.WRITE_LOCK}.lock")):
            held.set()
            release.wait(10)
            time.sleep(0.5)

    thread = threading.Thread(target=other_writer)
    thread.start()
    held.wait(10)
    try:
        assert index.catch_up(wait=False) is None  # a search's lazy catch-up does not wait
        release.set()
        started = time.monotonic()
        head = index.catch_up(wait=True)  # the hook waits for the other writer
        assert time.monotonic() - started >= 0.3
    finally:
        release.set()
        thread.join(10)
    assert index.info()["commit"] == head
    assert slugs(index, "вкладки") == ["beacon-loss"]


def test_a_writer_that_waits_too_long_gets_a_clear_conflict(settings, kb, monkeypatch):
    index = WhooshIndex(settings)
    index.rebuild()
    monkeypatch.setattr(search_index, "WRITE_LOCK_TIMEOUT", 0.2)
    held, release = threading.Event(), threading.Event()

    def other_writer():
        with FileLock(str(settings.locks_path / f"{search_index.WRITE_LOCK}.lock")):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_writer)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(Conflict, match="поискового индекса"):
            index.catch_up(wait=True)
    finally:
        release.set()
        thread.join(10)


def test_title_outranks_summary_outranks_body(settings, content_repo, kb):
    files = {}
    for path, title, summary, body in [
        ("kb/x/in-body.md", "Первая статья", "Обычное описание.", "Здесь телеметрия и ещё раз телеметрия."),
        ("kb/x/in-title.md", "Телеметрия агента", "Обычное описание.", "Текст без этого слова."),
        ("kb/x/in-summary.md", "Вторая статья", "Про телеметрию.", "Текст без этого слова."),
    ]:
        files.update(new_article(path=path, title=title, body=body))
        files[path] = files[path].replace("Часть сеансов обрывается.", summary)
    commit(content_repo, files)
    assert slugs(WhooshIndex(settings), "телеметрия") == ["in-title", "in-summary", "in-body"]


def test_synonyms_come_from_the_content_repository(settings, content_repo, kb):
    index = WhooshIndex(settings)
    assert slugs(index, "квакозябра") == []
    commit(content_repo, {"kb/synonyms.txt": "квакозябра, капча\n"})
    index._head_checked = 0.0
    slugs(index, "квакозябра")  # notices HEAD moved; the catch-up runs in the background
    index.settle()
    assert slugs(index, "квакозябра") == ["captcha"]


def test_filters_facets_sort_and_pages(settings, kb):
    index = WhooshIndex(settings)
    page = index.search(SearchRequest(text="проверка", audiences=CUSTOMER, module="stm"))
    assert page.total and all(h.module == "stm" for h in page.hits)
    assert page.facets["module"] == [{"value": "stm", "count": page.total}]
    by_version = slugs(index, "агент", CUSTOMER, version="5.1.0")
    assert by_version and "agent-not-starting" not in by_version
    assert "snippet-install" in by_version
    assert slugs(index, "", CUSTOMER, tag="windows") == ["agent-install-windows", "agent-install-file-missing"] or \
        sorted(slugs(index, "", CUSTOMER, tag="windows")) == ["agent-install-file-missing", "agent-install-windows"]
    everything = slugs(index, "агент", STAFF)
    first = index.search(SearchRequest(text="агент", audiences=STAFF, limit=3)).hits
    second = index.search(SearchRequest(text="агент", audiences=STAFF, limit=3, offset=3)).hits
    assert [h.slug for h in first + second] == everything[:6]
    by_date = index.search(SearchRequest(text="агент", audiences=STAFF, sort="date", limit=50)).hits
    assert [h.updated for h in by_date] == sorted((h.updated for h in by_date), reverse=True)
    assert index.search(SearchRequest(text="", audiences=STAFF)).total == 0


@pytest.mark.parametrize("text", ['"', '"капча', "AND", "OR NOT", "*", "капча\x00\x07", "-", "((", "капча)" * 200,
                                  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u200b\u200e", "title:капча", "кап*", "~2", "a" * 499])
def test_malformed_queries_never_fail(settings, kb, text):
    page = WhooshIndex(settings).search(SearchRequest(text=text, audiences=CUSTOMER))
    assert page.total >= 0


def _articles(content_repo, specs) -> None:
    files = {}
    for path, title, summary, body in specs:
        files.update(new_article(path=path, title=title, body=body))
        files[path] = files[path].replace("Часть сеансов обрывается.", summary)
    commit(content_repo, files)


def test_a_short_exactly_titled_article_beats_a_long_one_mentioning_the_words(settings, content_repo, kb):
    filler = " ".join(f"Раздел {n}: параметры очереди, журнал и порты коллектора." for n in range(300))
    _articles(content_repo, [
        ("kb/x/long.md", "Журнал коллектора: справочник", "Ротация журнала коллектора, порты и очередь.",
         f"{filler} Ротация журнала коллектора: журнал коллектора ротируется, ротация журнала по размеру. {filler}"),
        ("kb/x/exact.md", "Ротация журнала коллектора", "Как настроить.", "Задайте размер файла."),
    ])
    assert slugs(WhooshIndex(settings), "ротация журнала коллектора")[:2] == ["exact", "long"]


def test_every_word_helps_and_one_missing_word_of_five_still_finds(settings, content_repo, kb):
    _articles(content_repo, [
        ("kb/x/four.md", "Коллектор теряет пакеты", "Очередь коллектора переполнена под нагрузкой.", "Текст."),
        ("kb/x/five.md", "Коллектор теряет пакеты", "Очередь переполнена при пиковой нагрузке.", "Текст."),
        ("kb/x/two.md", "Коллектор теряет данные", "Очередь переполнена.", "Текст."),
    ])
    page = WhooshIndex(settings).search(SearchRequest(text="коллектор теряет пакеты при пиковой нагрузке",
                                                      audiences=STAFF))
    # Five words: the article holding all five first, the one missing "пиковой" still found, two words are too few.
    assert [h.slug for h in page.hits] == ["five", "four"] and page.matched == "all"


def test_a_noun_finds_the_verb_and_an_aspect_pair_meets(settings, content_repo, kb):
    _articles(content_repo, [
        ("kb/x/owner.md", "Агент изменяет владельца каталога", "После обновления.",
         "Агент при запуске изменяет владельца каталога данных."),
        ("kb/x/queue.md", "Коллектор создаёт очередь", "При запуске.", "Текст."),
    ])
    index = WhooshIndex(settings)
    assert slugs(index, "изменение владельца каталога")[:1] == ["owner"]
    assert slugs(index, "создание очереди")[:1] == ["queue"]
    assert slugs(index, "создать очередь")[:1] == ["queue"]
    page = index.search(SearchRequest(text="изменение владельца", audiences=STAFF))
    assert "<mark>изменяет</mark> <mark>владельца</mark>" in page.hits[0].snippet  # relatives are highlighted too

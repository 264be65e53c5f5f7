"""Ranking on both backends: names typed in capitals are codes, a synonym of several words counts as words.

Each test commits a few articles into a real content repository and asks a real index of each backend
(Whoosh on disk, PostgreSQL in a database of its own)."""

from __future__ import annotations

import pytest

from portal.search.index import SearchRequest
from tests.search.conftest import BACKENDS, STAFF, commit, index_of
from tests.search.corpus import article_text


def _publish(content_repo, specs: list[tuple[str, str, str, str]]) -> None:
    files = {}
    for path, title, summary, body in specs:
        files[path] = article_text(dict(path=path, title=title, summary=summary, kind="problem", module="agent",
                                        product_versions=["5.2.1"], tags=[], status="published",
                                        visibility="public", body=body))
    commit(content_repo, files)


@pytest.fixture(params=BACKENDS)
def index_for(request, settings, search_databases):
    """A function giving a fresh index of this backend over the content repository as committed."""
    made = []

    def make():
        index = index_of(request.param, settings, search_databases)
        index.rebuild()
        made.append(index)
        return index

    yield make
    for index in made:
        index.close()


def _slugs(index, text: str) -> list[str]:
    return [h.slug for h in index.search(SearchRequest(text=text, audiences=STAFF, limit=10)).hits]


def test_a_name_typed_in_capitals_is_a_code(content_repo, kb, index_for):
    _publish(content_repo, [
        ("kb/agent/stops.md", "Агент останавливается после обновления", "Агент агента агентом.",
         "Агент останавливается: агент не запускается, агент пишет в журнал агента."),
        ("kb/agent/reset.md", "Обрывы соединений с коллектором", "Соединение обрывается под нагрузкой.",
         "В журнале агента ошибка ECONNRESET: коллектор закрывает соединение."),
    ])
    index = index_for()
    # A code and a word: both are required ("HTTP 502" is not any HTTP), so the page full of "агент" without the
    # code is no answer; typed in lower case it is a word and one of two words is enough.
    assert _slugs(index, "ECONNRESET агент") == ["reset"]
    assert {"reset", "stops"} <= set(_slugs(index, "econnreset агент"))
    page = index.search(SearchRequest(text="ECONNRESET", audiences=STAFF))
    assert [h.slug for h in page.hits] == ["reset"] and "<mark>ECONNRESET</mark>" in page.hits[0].snippet


def test_a_synonym_of_several_words_counts_in_the_title_as_the_readers_own_words(content_repo, kb, index_for):
    filler = " ".join(f"Раздел {n}: пароль, вход и журнал." for n in range(40))
    _publish(content_repo, [
        ("kb/agent/titled.md", "Учётная запись службы заблокирована", "После смены пароля.", filler),
        ("kb/agent/mentions.md", "Служба заблокирована после обновления",
         "Учётная запись службы: учётная запись заблокирована, учётная запись не входит.",
         "Учётная запись службы. Учётная запись администратора. Учётная запись."),
    ])
    index = index_for()
    # "аккаунт" is a variant of "учётная запись" (the built-in dictionary): the article whose title holds the
    # variant ranks first, as it would for the reader's own words, above the one repeating it in a short text.
    assert _slugs(index, "аккаунт службы заблокирован")[:2] == ["titled", "mentions"]


def test_shared_memory_has_both_of_its_russian_names(content_repo, kb, index_for):
    filler = " ".join(f"Замер {n}: память агента растёт, память не освобождается." for n in range(30))
    _publish(content_repo, [
        ("kb/agent/segment.md", "Агент не получает общий сегмент памяти",
         "Коллектор и агент обмениваются данными через общую память.", "Размер общей памяти задаётся в настройках."),
        ("kb/agent/grows.md", "Память агента растёт", "Агент занимает всё больше памяти.", filler),
    ])
    index = index_for()
    # Shared memory is «разделяемая память» to some writers and «общая память» to others (the Russian man pages
    # say «общая» throughout): the built-in dictionary holds both and the English term. Without it the article
    # about memory in general comes first, holding «память» more often and no word of «разделяемая» either.
    for text in ("разделяемая память", "общая память", "shared memory"):
        assert _slugs(index, text)[:1] == ["segment"], text

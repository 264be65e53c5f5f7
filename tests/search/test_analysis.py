"""Analysis and parsing without an index: word forms, codes, the forgiving parser, articles from files."""

from __future__ import annotations

import pytest

from portal.search import analysis, source
from portal.search import query as sq
from tests.search.corpus import article_text


@pytest.mark.parametrize("forms", [
    ("ошибка", "ошибки", "ошибок", "ошибкой"),
    ("запуск", "запускается", "запускаются", "запуска"),
    ("агент", "агента", "агентов"),
    ("сниппет", "сниппета", "сниппеты"),
    ("сертификат", "сертификата", "сертификатов"),
    ("connection", "connections"),
    ("ёлка", "елка"),
])
def test_word_forms_meet(forms):
    assert len({analysis.normalise(w) for w in forms}) == 1, {w: analysis.normalise(w) for w in forms}


def test_codes_are_kept_whole():
    text = "Ошибка ERR_CONNECTION_TIMED_OUT, заявка PRM-2026-00042, код 0x80070005, версия 5.2.1. HTTP 502."
    codes = [t for t in analysis.code_tokens(text) if analysis.is_code(t)]
    assert codes == ["err_connection_timed_out", "prm-2026-00042", "0x80070005", "5.2.1", "502"]


@pytest.mark.parametrize(("text", "units"), [
    ('агент "не запускается', ["word:агент", "word:запускается"]),  # the lone quote is ignored
    ('"не запускается" PRM-2026-00042', ["phrase:не запускается", "code:prm-2026-00042"]),
    ("AND OR NOT", []),
    ("\x00\x07агент\u200b\x7f", ["word:агент"]),
    ("«сниппет»", ["word:сниппет"]),
    ("title:x кап*", ["word:title", "word:x", "word:кап"]),
])
def test_the_parser_forgives(text, units):
    assert [f"{u.kind}:{u.text}" for u in sq.parse(text).units] == units


def test_only_published_articles_are_searchable_and_index_pages_link_to_their_folder():
    spec = dict(path="kb/rum/a.md", title="T", summary="S", body="B", kind="problem", module="rum")
    assert source.parse("kb/rum/a.md", article_text(spec)).url == "/kb/rum/a/"
    assert source.parse("kb/rum/a.md", article_text({**spec, "status": "draft"})) is None
    assert source.parse("kb/rum/index.md", article_text(spec)).url == "/kb/rum/"
    assert source.parse("kb/index.md", article_text(spec)).url == "/kb/"
    assert source.parse("kb/rum/a.md", "---\n: [broken\n---\ntext") is None
    # An invalid field (here an unknown visibility) is not indexed at all; `portal kb check` names it.
    assert source.parse("kb/rum/a.md", article_text({**spec, "visibility": "secret"})) is None


@pytest.mark.parametrize("words", [
    ("изменение", "изменяет", "изменить", "изменённый"),
    ("создание", "создаёт", "создать", "создавать", "созданный"),
    ("смена", "сменить", "сменяет"),
    ("ожидание", "ожидает", "ожидать"),
    ("переименовать", "переименовывает", "переименование"),
    ("отправка", "отправить", "отправляет"),
    ("блокировка", "блокировать", "блокирует"),
    ("синхронизация", "синхронизировать"),
])
def test_word_families_meet(words):
    families = {analysis.family(analysis.normalise(w)) for w in words}
    assert len(families) == 1 and families != {""}, {w: analysis.family(analysis.normalise(w)) for w in words}


def test_families_stay_apart_where_words_differ():
    family = lambda word: analysis.family(analysis.normalise(word))  # noqa: E731
    assert family("создать") != family("сдать")
    assert family("изменить") != family("заменить")
    assert family("процесс") != family("прогресс")
    # Stop words are indexed as written: "после" is not a form of "послать".
    assert analysis.normalise("после") == "после" and family("послать") != "после"
    assert analysis.family("connection") == "" and analysis.family("5.2.1") == ""


def test_the_index_holds_each_word_and_its_family_at_one_position():
    tokens = [(t.text, t.pos) for t in analysis.text_analyzer()("создание каталога", positions=True)]
    assert tokens == [("создан", 0), ("~созд", 0), ("каталог", 1), ("~каталог", 1)]
    assert analysis.analyse("создание каталога") == ["создан", "каталог"]  # phrases ask for the forms


def test_forms_of_stop_words_are_left_out_of_queries():
    assert [u.text for u in sq.parse("как послать сигнал другому процессу").units] == ["послать", "сигнал", "процессу"]


def test_names_in_capitals_are_codes_as_written():
    text = "Агент получил ECONNRESET и SIGKILL; Linux, SQL и http-запрос остаются словами. EACCES."
    assert [t.text for t in analysis.code_analyzer()(text)] == ["econnreset", "sigkill", "eacces"]
    assert [f"{u.kind}:{u.text}" for u in sq.parse("SIGKILL Econnreset SQL eintr").units] == [
        "code:sigkill", "word:econnreset", "word:sql", "word:eintr"]  # typed in capitals, four letters or more
    assert analysis.is_identifier("HTTP") and not analysis.is_identifier("http") and not analysis.is_identifier("Эхо")


def test_a_query_with_a_name_in_capitals_reads_back_as_typed():
    parsed = sq.parse("ECONNRESET агнет PRM-2026-00042")
    assert parsed.text() == "ECONNRESET агнет prm-2026-00042"  # a correction's suggestion keeps the code a code
    assert sq.parse(parsed.text()).units == parsed.units


@pytest.mark.parametrize(("one", "other"), [
    ("разделяемой памяти", "общая память"),
    ("разделяемую библиотеку", "общих библиотек"),
    ("shared objects", "общий объект"),
])
def test_shared_terms_meet_under_both_russian_names(one, other):
    built_in = sq.synonyms("", analysis.DEFAULT_MODE)
    found = built_in.group_of(sq.entry_key(one, analysis.DEFAULT_MODE))
    assert found is not None and found == built_in.group_of(sq.entry_key(other, analysis.DEFAULT_MODE))


def test_common_alone_is_no_synonym_of_shared():
    # «общий» alone means "common": only the whole terms are variants of each other.
    built_in = sq.synonyms("", analysis.DEFAULT_MODE)
    assert built_in.group_of(sq.entry_key("общий", analysis.DEFAULT_MODE)) is None

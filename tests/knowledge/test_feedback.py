"""Readers' feedback on articles (knowledge/feedback.py) through the real services, database, content repository
and HTTP: one vote per reader per version in the audit log, hidden articles answering like missing ones, the
writers' view of votes, comments and the searches that led there, and «Исправлено в пакете …» only for the
readers the package's entitlement lets see it — in the JSON and never in the customers' edition's HTML."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import audit
from portal.accounts.models import User
from portal.errors import Forbidden, Invalid, NotFound
from portal.knowledge import feedback, service, site
from portal.knowledge.feedback_models import ArticleVote
from portal.search.models import SearchLogEntry
from tests.releases.conftest import create as create_package
from tests.releases.conftest import make_world, wait_for


def _publish(db, settings, writer, article):
    with db.session_scope() as session:
        return service.publish_article(session=session, settings=settings, actor=writer, slug=article.slug)


def _vote(db, settings, reader, slug, helpful, comment=None):
    with db.session_scope() as session:
        view = feedback.vote(session=session, settings=settings, actor=reader, slug=slug, helpful=helpful,
                             comment=comment)
        assert view.vote is not None and view.version == view.vote.version
        return view.vote.id


@pytest.fixture
def published(db, settings, writer, write_article):
    article = write_article(writer, title="Приоритеты заявок и время реакции")
    return _publish(db, settings, writer, article)


def test_a_reader_votes_once_per_version_and_each_vote_is_audited(db, settings, make, writer, published):
    ivanova = make.user("customer", make.org("romashka", "ООО Ромашка"), username="ivanova")
    first = _vote(db, settings, ivanova, published.slug, False, "Не сказано, кто меняет приоритет")
    again = _vote(db, settings, ivanova, published.slug, True)  # changed her mind on the same version
    assert again == first
    with db.session_scope(write=False) as session:
        rows = session.query(ArticleVote).all()
        assert [(r.version, r.helpful, r.comment) for r in rows] == [(published.commit, True, None)]
        entries = audit.query(session, action="article.vote", object_id=published.slug)
        assert len(entries) == 2
        assert {e.details["replaced"] for e in entries} == {False, True}
        assert all(e.actor == "ivanova" and e.details["version"] == published.commit for e in entries)
        view = feedback.reader_view(session=session, settings=settings, reader=ivanova, slug=published.slug)
        assert view.as_dict()["vote"] == {"helpful": True, "comment": ""}

    with db.session_scope() as session:  # a new version of the article is voted on afresh
        service.save_article(session=session, settings=settings, actor=writer, slug=published.slug,
                             body="## Симптомы\n\nПриоритет меняет вторая линия.\n",
                             front_matter=published.meta.as_dict(), base_commit=published.commit)
    republished = _publish(db, settings, writer, published)
    assert republished.commit != published.commit
    _vote(db, settings, ivanova, published.slug, False, "Всё ещё непонятно")
    with db.session_scope(write=False) as session:
        data = feedback.article_feedback(session=session, settings=settings, actor=writer, slug=published.slug)
        assert {(v.version, v.helpful, v.unhelpful) for v in data.versions} == {
            (published.commit, 1, 0), (republished.commit, 0, 1)}
        assert [c.comment for c in data.comments] == ["Всё ещё непонятно"]
        [row] = feedback.unhelpful_articles(session=session, actor=writer)
        assert (row.slug, row.unhelpful, row.helpful, row.share) == (published.slug, 1, 1, 50)
        with pytest.raises(Forbidden):  # votes and comments are the writers'
            feedback.article_feedback(session=session, settings=settings, actor=ivanova, slug=published.slug)


def test_hidden_unpublished_and_missing_articles_answer_alike(db, settings, make, writer, write_article, published):
    ivanova = make.user("customer", make.org("romashka"), username="ivanova")
    internal = _publish(db, settings, writer, write_article(writer, title="Внутренняя кухня", visibility="internal"))
    draft = write_article(writer, title="Черновик")
    answers = []
    for slug in (internal.slug, draft.slug, "no-such-article", "Bad Slug!"):
        with pytest.raises(NotFound) as caught, db.session_scope() as session:
            feedback.vote(session=session, settings=settings, actor=ivanova, slug=slug, helpful=True)
        answers.append(caught.value.status_code)
    assert answers == [404, 404, 404, 404]
    with db.session_scope(write=False) as session:  # an anonymous reader of the public edition does not vote
        assert feedback.reader_view(session=session, settings=settings, reader=None,
                                    slug=_publish(db, settings, writer, write_article(
                                        writer, title="Открытая статья", visibility="public")).slug).can_vote is False
        assert session.query(ArticleVote).count() == 0


def test_a_too_long_comment_is_refused_with_a_reason_and_nothing_is_stored(db, settings, make, published, api):
    ivanova = make.user("customer", make.org("romashka"), username="ivanova")
    with pytest.raises(Invalid) as caught, db.session_scope() as session:
        feedback.vote(session=session, settings=settings, actor=ivanova, slug=published.slug, helpful=False,
                      comment="х" * (feedback.COMMENT_MAX + 1))
    assert "не длиннее 2000 символов" in str(caught.value.errors)
    english = make.user("customer", make.org("vector"), username="smith")
    with db.session_scope() as session:
        session.get(User, english.id).language = "en"
    answer = api.put(english, f"/api/v1/kb/articles/{published.slug}/vote",
                     json={"helpful": False, "comment": "x" * (feedback.COMMENT_MAX + 1)})
    assert answer.status_code == 422 and "at most 2000 characters" in answer.text, answer.text
    with db.session_scope(write=False) as session:
        assert session.query(ArticleVote).count() == 0


def test_the_writer_sees_which_searches_led_to_an_article(db, settings, make, writer, published, api):
    ivanova = make.user("customer", make.org("romashka", "ООО Ромашка"), username="ivanova")
    for query in ("приоретет", "Приоретет ", "время реакции"):
        r = api.post(ivanova, f"/api/v1/kb/articles/{published.slug}/searches", json={"query": query})
        assert r.status_code == 204, r.text
    assert api.post(ivanova, "/api/v1/kb/articles/no-such/searches", json={"query": "x"}).status_code == 404
    r = api.put(ivanova, f"/api/v1/kb/articles/{published.slug}/vote",
                json={"helpful": False, "comment": "<script>alert(1)</script> Нет примера"})
    assert r.status_code == 200 and r.json()["vote"]["helpful"] is False
    with db.session_scope(write=False) as session:
        data = feedback.article_feedback(session=session, settings=settings, actor=writer, slug=published.slug)
        assert [(q.lower().strip(), n) for q, n in data.searches] == [("приоретет", 2), ("время реакции", 1)]

    page = api.get(writer, f"/articles/{published.slug}/feedback")
    assert page.status_code == 200
    assert "приоретет" in page.text.lower() and "Нет примера" in page.text
    assert "ivanova · ООО Ромашка" in page.text  # whom to ask about the comment
    assert "<script>alert(1)</script>" not in page.text  # a reader's comment is never markup
    assert api.get(ivanova, f"/articles/{published.slug}/feedback").status_code == 403
    home = api.get(writer, "/")
    assert "Статьи, которые не помогли" in home.text and f"/articles/{published.slug}/feedback" in home.text


def test_fixed_in_names_a_package_only_to_readers_entitled_to_it(db, settings, make, writer, write_article, api):
    world = make_world(db, settings, make)
    article = write_article(writer, title="Выгрузка в Excel обрывается", tickets=[world.t_romashka])
    _publish(db, settings, writer, article)
    package_id = create_package(db, settings, world.support, package_id="primoart-7.1.0-hf9",
                                tickets=[world.t_romashka], publish=True)
    assert {r.status for r in site.build(settings=settings, db=db, force=True)} == {"built"}
    url = f"/api/v1/kb/articles/{article.slug}/reader"

    entitled = api.get(world.ivanova, url)
    assert entitled.status_code == 200
    assert entitled.json()["fixed_in"] == [{"id": package_id, "title": "Исправление выгрузки отчётов",
                                            "url": f"/packages/{package_id}"}]
    assert entitled.headers["cache-control"] == "no-store"
    assert api.get(world.developer, url).json()["fixed_in"][0]["id"] == package_id  # staff always
    for outsider in (world.petrov, world.outsider):
        answer = api.get(outsider, url)
        assert answer.status_code == 200 and answer.json()["fixed_in"] == []
        assert package_id not in answer.text
        page = api.get(outsider, article.url)
        assert page.status_code == 200 and article.title in page.text
        assert package_id not in page.text  # the customers' edition's HTML names no package
    for edition in ("customers", "public"):
        built = site.edition_dir(settings, edition)
        assert not any(package_id in p.read_text(encoding="utf-8", errors="ignore")
                       for p in built.rglob("*") if p.is_file() and p.suffix in (".html", ".json", ".xml"))


def test_search_names_a_fixing_package_only_to_readers_entitled_to_it(db, settings, make, writer, write_article,
                                                                         api):
    """The search API and page say «исправлено в пакете …» by the same rule as the article page: a customer of
    another organisation finds the article but learns neither the package's title nor its ID."""
    world = make_world(db, settings, make)
    article = write_article(writer, title="Выгрузка в Excel обрывается", tickets=[world.t_romashka])
    _publish(db, settings, writer, article)
    package_id = create_package(db, settings, world.support, package_id="primoart-7.1.0-hf9",
                                title="Заплатка для Ромашки", tickets=[world.t_romashka], publish=True)
    params = {"q": "выгрузка excel обрывается"}

    def hit_of(reader) -> dict:
        answer = api.get(reader, "/api/v1/search", params=params)
        assert answer.status_code == 200, answer.text
        return next(h for h in answer.json()["hits"] if h["slug"] == article.slug)

    for reader in (world.ivanova, world.support, world.developer):
        assert hit_of(reader)["fixed_in"] == [{"id": package_id, "title": "Заплатка для Ромашки"}]
        page = api.get(reader, "/search", params=params)
        assert page.status_code == 200 and "Заплатка для Ромашки" in page.text
    for outsider in (world.petrov, world.outsider):
        assert hit_of(outsider)["fixed_in"] == []
        answer = api.get(outsider, "/api/v1/search", params=params)
        page = api.get(outsider, "/search", params=params)
        assert page.status_code == 200 and article.title in page.text
        for text in (answer.text, page.text):
            assert package_id not in text and "Заплатка для Ромашки" not in text


def test_anonymous_visitors_search_the_public_edition_only_when_it_is_enabled(db, settings, make, writer,
                                                                              write_article, api, client, app):
    """PORTAL_PUBLIC_KB=true: a visitor not signed in searches the public articles (and nothing else), is never
    named a package, and the search is logged as the anonymous role's; without it, search answers 401."""
    world = make_world(db, settings, make)
    public = write_article(writer, title="Квазиобновление агента: порядок действий", visibility="public",
                           tickets=[world.t_romashka])
    hidden = write_article(writer, title="Квазиобновление агента для клиентов", visibility="customers")
    internal = write_article(writer, title="Квазиобновление агента: внутренняя памятка", visibility="internal")
    for article in (public, hidden, internal):
        _publish(db, settings, writer, article)
    package_id = create_package(db, settings, world.support, package_id="primoart-7.1.0-hf9",
                                title="Заплатка для Ромашки", tickets=[world.t_romashka], publish=True)
    params = {"q": "квазиобновление агента"}

    for path in ("/api/v1/search", "/api/v1/search/suggest"):
        assert client.get(path, params=params).status_code == 401  # PORTAL_PUBLIC_KB is off

    app.state.settings = settings.model_copy(update={"public_kb": True})
    answer = client.get("/api/v1/search", params=params)
    assert answer.status_code == 200, answer.text
    slugs = [h["slug"] for h in answer.json()["hits"]]
    assert slugs[0] == public.slug and hidden.slug not in slugs and internal.slug not in slugs
    assert all(h["fixed_in"] == [] for h in answer.json()["hits"])
    assert "для клиентов" not in answer.text and "памятка" not in answer.text
    assert package_id not in answer.text and "Заплатка" not in answer.text
    suggested = client.get("/api/v1/search/suggest", params={"q": "Квазиобновление аг"})
    assert suggested.status_code == 200 and [s["slug"] for s in suggested.json()][:1] == [public.slug]
    assert {hidden.slug, internal.slug}.isdisjoint(s["slug"] for s in suggested.json())
    assert client.get("/api/v1/search", params={"q": "x", "limit": 0}).status_code == 422
    # signed-in readers keep their own audiences (and their packages)
    customer_hits = api.get(world.ivanova, "/api/v1/search", params=params).json()["hits"]
    assert {public.slug, hidden.slug} <= {h["slug"] for h in customer_hits}
    assert internal.slug not in {h["slug"] for h in customer_hits}
    assert [p["id"] for h in customer_hits for p in h["fixed_in"]] == [package_id]
    assert internal.slug in {h["slug"] for h in api.get(world.support, "/api/v1/search", params=params).json()["hits"]}

    def logged() -> list[tuple[str, str]]:
        with db.session_scope(write=False) as session:
            return [(e.query, e.role) for e in session.scalars(select(SearchLogEntry))]

    assert wait_for(lambda: ("квазиобновление агента", "anonymous") in logged()), logged()

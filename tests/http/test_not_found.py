"""Finding 7: "not yours" answers exactly like "not there" — status, body and message — on read and write
routes, for packages, files, deliveries, internal articles, attachments and comments.

The only difference allowed is the identifier the client itself asked for, echoed in the message: each
answer is compared with the identifier replaced by a placeholder.
"""

from __future__ import annotations

import io

from portal.knowledge import service as knowledge
from portal.releases.models import Delivery
from portal.tickets import service as tickets
from tests.releases.conftest import create, load

FILE = "primoart-5.2.1-hf3.tar.gz"


def _answer(r, asked: str):
    try:
        body = r.json()
    except ValueError:
        body = r.text
    text = str(body).replace(asked, "<ID>")
    return r.status_code, text


def _same(call, hidden: str, missing: str, expect: int = 404):
    """call(identifier) for another organisation's object and for one that does not exist: one answer."""
    seen = _answer(call(hidden), hidden)
    absent = _answer(call(missing), missing)
    assert seen == absent, (hidden, seen, absent)
    assert seen[0] == expect, seen
    return seen


def test_another_organisations_package_and_file_answer_like_missing_ones(api, db, settings, world, published):
    outsider = world.outsider  # customer of an organisation the package is not offered to
    get, post, put = (lambda u, **kw: api.get(outsider, u, **kw)), (lambda u, **kw: api.post(outsider, u, **kw)), \
        (lambda u, **kw: api.put(outsider, u, **kw))
    missing = "pkg-missing"
    _same(lambda p: get(f"/api/v1/packages/{p}"), published, missing)
    for tail in (f"files/{FILE}", f"files/{FILE}/sha256", f"files/{FILE}/signature", "files/nothing.bin"):
        _same(lambda p, tail=tail: get(f"/api/v1/packages/{p}/{tail}"), published, missing)
    # Writes a customer may never do: refused alike, whether the package exists or not.
    _same(lambda p: put(f"/api/v1/packages/{p}/notes", json={"notes": "x"}), published, missing, 403)
    _same(lambda p: post(f"/api/v1/packages/{p}/publish"), published, missing, 403)
    _same(lambda p: post(f"/api/v1/packages/{p}/withdraw", json={"reason": "x"}), published, missing, 403)
    # An entitled customer's own organisation's draft does not exist for them yet.
    draft = create(db, settings, world.support, package_id="pkg-draft", tickets=[world.t_romashka])
    _same(lambda p: api.get(world.ivanova, f"/api/v1/packages/{p}"), draft, missing)
    _same(lambda p: api.get(world.ivanova, f"/api/v1/packages/{p}/files/{FILE}"), draft, missing)
    # The HTML pages say the same.
    html = {**api.headers(outsider), "Accept": "text/html"}
    _same(lambda p: api.client.get(f"/packages/{p}", headers=html), published, missing)
    staff_missing = api.get(world.support, f"/api/v1/packages/{missing}")
    assert staff_missing.json()["detail"] == f"Пакет «{missing}» не найден."


def test_another_organisations_delivery_answers_like_a_missing_one(api, db, world, published):
    with db.session_scope() as s:
        romashka = s.query(Delivery).filter_by(package_id=published, organization_id=world.romashka.id).one().id
    missing = str(romashka + 1000)
    petrov = world.petrov  # vector's customer: vector has its own delivery of the package, not romashka's
    answer = _same(lambda d: api.post(petrov, f"/api/v1/deliveries/{d}/acknowledge", json={"note": "x"}),
                   str(romashka), missing)
    assert answer[1] == str({"detail": "Доставка № <ID> не найдена."})
    _same(lambda d: api.post(petrov, f"/api/v1/deliveries/{d}/confirm", json={"note": "x"}), str(romashka),
          missing, 403)
    # Recording a hand-over: customers are refused before any organisation is looked up.
    r1 = api.post(petrov, "/api/v1/deliveries", json={"package_id": published, "organization": "romashka",
                                                       "channel": "email", "note": "x"})
    r2 = api.post(petrov, "/api/v1/deliveries", json={"package_id": published, "organization": "no-such-org",
                                                       "channel": "email", "note": "x"})
    assert (r1.status_code, r1.json()) == (r2.status_code, r2.json()) and r1.status_code == 403


def test_internal_article_answers_like_a_missing_one(api, db, settings, make, world, content_repo):
    writer = make.user("writer")
    with db.session_scope() as s:
        article = knowledge.create_article(
            session=s, settings=settings, actor=load(s, writer), body="Секрет.\n", section=None, slug=None,
            front_matter={"title": "Внутренняя кухня", "kind": "howto", "visibility": "internal", "summary": "x"})
        slug = article.slug
    assert api.get(writer, f"/api/v1/articles/{slug}").status_code == 200
    answer = _same(lambda a: api.get(world.ivanova, f"/api/v1/articles/{a}"), slug, "no-such-article")
    assert answer[1] == str({"detail": "Статья «<ID>» не найдена."})
    html = {**api.headers(world.ivanova), "Accept": "text/html"}
    _same(lambda a: api.client.get(f"/articles/{a}", headers=html), slug, "no-such-article")


def test_attachments_and_comments_of_another_organisation_answer_like_missing_ones(api, db, settings, world):
    with db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=world.t_romashka)
        attachment = tickets.add_attachment(session=s, settings=settings, ticket=ticket,
                                            actor=load(s, world.ivanova), filename="log.txt",
                                            stream=io.BytesIO(b"log\n"))
        attachment_id = attachment.id
    missing_ticket = world.t_romashka[:-5] + "99999"
    petrov = world.petrov
    # Another organisation's ticket: reading, commenting, attaching, its attachments.
    _same(lambda t: api.get(petrov, f"/api/v1/tickets/{t}"), world.t_romashka, missing_ticket)
    _same(lambda t: api.get(petrov, f"/api/v1/tickets/{t}/events"), world.t_romashka, missing_ticket)
    _same(lambda t: api.post(petrov, f"/api/v1/tickets/{t}/comments", json={"body": "x", "public": True}),
          world.t_romashka, missing_ticket)
    _same(lambda t: api.get(petrov, f"/api/v1/tickets/{t}/attachments/{attachment_id}"), world.t_romashka,
          missing_ticket)
    _same(lambda t: api.post(petrov, f"/api/v1/tickets/{t}/attachments", files={"file": ("a.txt", b"x")}),
          world.t_romashka, missing_ticket)
    # Romashka's attachment asked for through vector's own ticket.
    answer = _same(lambda a: api.get(petrov, f"/api/v1/tickets/{world.t_vector}/attachments/{a}"),
                   str(attachment_id), str(attachment_id + 1000))
    assert answer[1] == str({"detail": "Вложение № <ID> не найдено."})

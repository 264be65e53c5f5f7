"""In Chromium: the hostile-markup corpus typed into a ticket (description, steps, a comment, the resolution),
carried into release notes and into an article drafted from the ticket, runs nowhere — for the customer
and for staff, on the ticket page, the queue, the package page, the delivery board, the article page and
the editor's live preview. Built site pages and the tags page are covered with the site editions."""

from __future__ import annotations

import pytest

from portal.knowledge import service as kb_service
from portal.tickets import service as tickets
from tests.e2e.helpers import sign_in
from tests.hostile import CORPUS
from tests.releases.conftest import create, load, make_world
from tests.tickets.helpers import register

SUMMARY = "<img src=x onerror=window.__xss=1;alert(1)> [x](javascript:window.__xss=1;alert(1))"


def _batches(n: int) -> list[str]:
    size = -(-len(CORPUS) // n)
    return ["\n\n".join(CORPUS[i:i + size]) for i in range(0, len(CORPUS), size)]


@pytest.fixture
def hostile(db, settings, make, content_repo):
    world = make_world(db, settings, make)
    writer = make.user("writer", username="writer")
    description, steps, comment, resolution = _batches(4)
    ticket_id = register(db, settings, world.ivanova, summary=SUMMARY, description=description,
                         steps_to_reproduce=steps)
    with db.session_scope() as s:
        ticket = tickets.get_ticket_unchecked(session=s, ticket_id=ticket_id)
        tickets.add_comment(session=s, settings=settings, ticket=ticket, actor=load(s, world.ivanova), body=comment)
        support = load(s, world.support)
        tickets.change_status(session=s, settings=settings, ticket=ticket, actor=support, status="in_analysis")
        tickets.change_status(session=s, settings=settings, ticket=ticket, actor=support, status="resolved",
                              cause=resolution, solution=resolution, workaround=SUMMARY)
    package_id = create(db, settings, world.support, tickets=[ticket_id], publish=True)
    with db.session_scope() as s:
        article = kb_service.create_from_ticket(session=s, settings=settings, actor=load(s, writer), ticket_id=ticket_id,
                                                kind="problem")
    return ticket_id, package_id, article.slug


def _watch(page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(f"{page.url}: {dialog.type} {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def _visit(page, path: str, *, settle: str = "networkidle") -> None:
    page.goto(path)
    page.wait_for_load_state(settle)
    page.wait_for_timeout(300)  # an onerror of a broken image fires after load
    assert page.evaluate("typeof window.__xss") == "undefined", path


def sign_out(page):
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/login")


def test_corpus_runs_nowhere_for_customer_and_staff(page, hostile):
    ticket_id, package_id, slug = hostile
    dialogs = _watch(page)

    sign_in(page, "ivanova")
    _visit(page, f"/tickets/{ticket_id}")
    description = page.get_by_test_id("description").inner_text()
    assert "<img src=x onerror=" in description  # the customer's words are shown, as text
    assert page.locator("[data-testid=description] a[href^='javascript']").count() == 0
    _visit(page, "/tickets")
    _visit(page, "/")
    _visit(page, f"/packages/{package_id}")
    notes = page.get_by_test_id("release-notes")
    assert notes.locator("a[href^='javascript' i]").count() == 0
    assert "onerror" in notes.inner_text()
    sign_out(page)

    sign_in(page, "support")
    for path in (f"/tickets/{ticket_id}", "/tickets/queue", "/", f"/packages/{package_id}", "/deliveries"):
        _visit(page, path)
    sign_out(page)

    sign_in(page, "writer")
    _visit(page, f"/articles/{slug}")
    body = page.get_by_test_id("article-body")
    assert "<img src=x onerror=" in body.inner_text()  # quoted as text in the draft
    assert body.locator("img[onerror], script, iframe, svg, math, object, embed").count() == 0
    page.goto(f"/articles/{slug}/edit")
    preview = page.locator("#kb-preview")
    preview.locator("h2").first.wait_for()
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    # A writer's own hostile Markdown in the live preview: rendered and sanitised on the server.
    page.locator("#kb-body").fill("## Проверка\n\n" + "\n\n".join(CORPUS[:60]))
    preview.locator("h2", has_text="Проверка").wait_for()
    page.locator("#kb-body").fill("## Ещё\n\n" + "\n\n".join(CORPUS[60:]))
    preview.locator("h2", has_text="Ещё").wait_for()
    page.wait_for_timeout(300)
    assert preview.locator("script, iframe, svg, math, object, embed, [onerror], [onclick]").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []


def test_pathological_preview_answers_with_a_message(page, hostile):
    _ticket_id, _package_id, slug = hostile
    sign_in(page, "writer")
    page.goto(f"/articles/{slug}/edit")
    page.locator("#kb-preview h2").first.wait_for()
    page.locator("#kb-body").fill("[" * 16_000)
    page.locator("#kb-preview[data-error='1']").wait_for(timeout=15_000)
    assert "«[»" in page.locator("#kb-preview").inner_text()


def test_api_docs_start_under_the_csp(page):
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.on("pageerror", lambda e: messages.append(str(e)))
    page.goto("/api/docs")
    page.locator("#swagger-ui .swagger-ui").wait_for()  # started by /static/api-docs.js
    page.locator(".opblock").first.wait_for()  # the operations render: Swagger UI accepts OpenAPI 3.1
    page.wait_for_timeout(500)
    assert [m for m in messages if "Content Security Policy" in m] == []

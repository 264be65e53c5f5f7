"""The writers' pages over real HTTP with a browser session: list, new, editor (the writer's text survives
every error), a stale save shown with the difference, history, diff and restore."""

from __future__ import annotations

from tests.accounts.test_pages import csrf_of, login

HTML = {"accept": "text/html"}


def _new(client, **form):
    page = client.get("/articles/new", headers=HTML)
    assert page.status_code == 200
    data = {"title": "Нет данных в отчёте «Сессии»", "kind": "problem", "visibility": "customers",
            "section": "", "summary": "Отчёт пуст.", "module": "RUM-агент", "body": "## Симптомы\n\nПусто.\n",
            "csrf_token": csrf_of(page.text), **form}
    return client.post("/articles/new", data=data, headers=HTML)


def _editor_form(html: str) -> dict:
    import re

    form = {name: value for name, value in re.findall(r'<input (?:type="hidden" )?name="(\w+)" value="([^"]*)"', html)}
    form["body"] = re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    for name in ("kind", "visibility", "status"):
        select = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S).group(1)
        form[name] = re.search(r'<option value="(\w+)" selected', select).group(1)
    return form


def test_writer_creates_edits_and_publishes_through_pages(client, make):
    make.user("writer", username="sokolova", full_name="Мария Соколова")
    login(client, "sokolova")
    listing = client.get("/articles", headers=HTML)
    assert listing.status_code == 200 and "Как подать заявку и что в ней указать" in listing.text
    assert "ещё не собирался" in listing.text  # the build state of each edition

    created = _new(client)
    assert created.status_code == 303
    edit_url = created.headers["location"]
    slug = edit_url.split("/")[2]
    editor = client.get(edit_url, headers=HTML)
    assert editor.status_code == 200 and 'id="kb-preview"' in editor.text and "/static/knowledge.js" in editor.text
    form = _editor_form(editor.text)
    assert form["title"] == "Нет данных в отчёте «Сессии»" or form["title"].startswith("Нет данных")

    # An invalid field: 422, the field named, the writer's text kept.
    bad = client.post(edit_url, data={**form, "tickets": "не-номер", "body": "Мой новый текст, не потерять."},
                      headers=HTML)
    assert bad.status_code == 422
    assert 'data-field="tickets"' in bad.text and "Мой новый текст, не потерять." in bad.text

    saved = client.post(edit_url, data={**form, "body": "## Решение\n\nПерезапустите агент.\n", "tags": "rum, отчёт"},
                        headers=HTML)
    assert saved.status_code == 303 and saved.headers["location"].startswith(f"/articles/{slug}?saved=")

    # A second save from the first version: 409, the difference shown, the writer's text kept.
    stale = client.post(edit_url, data={**form, "body": "Параллельная правка."}, headers=HTML)
    assert stale.status_code == 409
    assert 'data-testid="conflict"' in stale.text and "+## Решение" in stale.text
    assert "Параллельная правка." in stale.text

    view = client.get(f"/articles/{slug}", headers=HTML)
    assert view.status_code == 200 and "Перезапустите агент." in view.text
    published = client.post(f"/articles/{slug}/publish", data={"csrf_token": csrf_of(view.text)}, headers=HTML)
    assert published.status_code == 303
    view = client.get(f"/articles/{slug}", headers=HTML)
    assert "опубликована" in view.text and f"/kb/problems/{slug}/" in view.text

    history = client.get(f"/articles/{slug}/history", headers=HTML)
    assert history.status_code == 200 and history.text.count('name="from"') == 3
    assert "Мария Соколова" in history.text
    import re

    commits = re.findall(r'name="to" value="([0-9a-f]{40})"', history.text)
    diff = client.get(f"/articles/{slug}/diff", params={"from": commits[2], "to": commits[1]}, headers=HTML)
    assert diff.status_code == 200 and "Перезапустите агент." in diff.text
    restore = client.post(f"/articles/{slug}/restore", data={"commit": commits[2],
                                                            "csrf_token": csrf_of(history.text)}, headers=HTML)
    assert restore.status_code == 303
    assert client.get(f"/articles/{slug}/history", headers=HTML).text.count('name="from"') == 4


def test_new_article_errors_keep_what_was_typed(client, make):
    make.user("writer", username="sokolova")
    login(client, "sokolova")
    r = _new(client, title="", body="Текст, который нельзя потерять.")
    assert r.status_code == 422 and "Текст, который нельзя потерять." in r.text
    assert 'data-field="title"' in r.text


def test_pages_follow_the_policy(client, make):
    make.user("customer", username="ivanova")
    login(client, "ivanova")
    assert client.get("/articles", headers=HTML).status_code == 403
    assert client.get("/articles/triage-checklist", headers=HTML).status_code == 404
    home = client.get("/", headers=HTML)
    assert 'href="/kb/"' in home.text and 'href="/articles"' not in home.text


def test_links_between_articles_lead_to_their_pages_in_the_portal(client, make):
    # Writers link articles by file, as MkDocs wants («priorities-and-sla.md», «../support/…md#…»); on the
    # portal's article page such a link led to a page that does not exist.
    make.user("writer", username="sokolova", full_name="Мария Соколова")
    login(client, "sokolova")
    page = client.get("/articles/how-to-file-a-request", headers=HTML)
    assert page.status_code == 200
    assert 'href="/articles/priorities-and-sla"' in page.text and 'priorities-and-sla.md"' not in page.text
    assert client.get("/articles/priorities-and-sla", headers=HTML).status_code == 200
    other = client.get("/articles/priority-changed", headers=HTML)
    assert 'href="/articles/priorities-and-sla"' in other.text  # written «../support/priorities-and-sla.md»


def test_only_relative_article_files_are_rewritten():
    from portal.knowledge.render import _links_to_articles

    assert _links_to_articles('<a href="../support/sla.md#reaction">') == '<a href="/articles/sla#reaction">'
    for kept in ('<a href="https://example.com/readme.md">', '<a href="/kb/support/sla/">',
                 '<a href="notes.txt">', '<a href="../../etc/passwd">'):
        assert _links_to_articles(kept) == kept

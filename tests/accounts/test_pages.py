"""Login, logout and CSRF through the HTML forms, over real HTTP."""

from __future__ import annotations

import re

from tests.factories import PASSWORD


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username, password=PASSWORD, next="/"):
    page = client.get("/login", follow_redirects=True)
    return client.post("/login", data={"username": username, "password": password, "next": next,
                                       "csrf_token": csrf_of(page.text)})


def test_login_sets_server_session_and_logout_ends_it(client, make, db):
    from portal.accounts.models import WebSession

    make.user("support", username="sergey")
    r = login(client, "sergey")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.cookies.get("portal_session")
    assert cookie and len(cookie) >= 40
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    with db.session_scope(write=False) as s:
        stored = [w.token_hash for w in s.query(WebSession)]
    assert stored and cookie not in stored  # only a hash is kept
    home = client.get("/", headers={"accept": "text/html"})
    assert home.status_code == 200 and "sergey" in home.text
    out = client.post("/logout", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303
    with db.session_scope(write=False) as s:
        assert s.query(WebSession).count() == 0
    client.cookies.set("portal_session", cookie)  # an old cookie is worthless after logout
    again = client.get("/", headers={"accept": "text/html"})
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_session_renewed_at_login(client, make):
    make.user("support", username="sergey")
    first = login(client, "sergey").cookies.get("portal_session")
    second = login(client, "sergey").cookies.get("portal_session")
    assert first and second and first != second
    client.cookies.set("portal_session", first)
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_shows_message_and_keeps_username(client, make):
    make.user("support", username="sergey")
    r = login(client, "sergey", password="wrong")
    assert r.status_code == 401
    assert "Неверное имя пользователя или пароль" in r.text
    assert 'value="sergey"' in r.text


def test_form_post_without_csrf_is_rejected(client, make):
    make.user("support", username="sergey")
    client.get("/login")
    r = client.post("/login", data={"username": "sergey", "password": PASSWORD})
    assert r.status_code == 403
    assert "CSRF" in r.json()["detail"]
    r = client.post("/login", data={"username": "sergey", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403


def test_cookie_authenticated_api_write_needs_csrf_header(client, make):
    make.user("developer", username="dev")
    login(client, "dev")
    r = client.post("/api/v1/tokens", json={"name": "x", "days": 1})
    assert r.status_code == 403
    page = client.get("/account/tokens", headers={"accept": "text/html"})
    r = client.post("/api/v1/tokens", json={"name": "x", "days": 1}, headers={"x-csrf-token": csrf_of(page.text)})
    assert r.status_code == 201


def test_no_state_change_on_get(client, make):
    make.user("support", username="sergey")
    login(client, "sergey")
    assert client.get("/logout").status_code == 405


def test_open_redirect_is_refused(client, make):
    make.user("support", username="sergey")
    r = login(client, "sergey", next="//evil.example/")
    assert r.headers["location"] == "/"


def test_anonymous_page_redirects_to_login(client):
    r = client.get("/admin/users", headers={"accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin/users"


def test_admin_pages_and_user_form_errors_keep_input(client, make):
    make.user("admin", username="root1")
    login(client, "root1")
    page = client.get("/admin/users", headers={"accept": "text/html"})
    assert page.status_code == 200
    r = client.post("/admin/users", data={"username": "newbie", "role": "customer", "password": "longenough",
                                          "full_name": "Новый Человек", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 422
    assert "должен принадлежать организации" in r.text and 'value="Новый Человек"' in r.text
    audit = client.get("/admin/audit", headers={"accept": "text/html"})
    assert audit.status_code == 200 and "auth.login" in audit.text


def test_every_form_on_admin_pages_carries_a_csrf_token(client, make):
    make.user("admin", username="root2")
    login(client, "root2")
    for url in ("/admin/users", "/account/tokens", "/admin/audit"):
        html = client.get(url, headers={"accept": "text/html"}).text
        values = re.findall(r'name="csrf_token" value="([^"]*)"', html)
        assert values and all(values), url
    page = client.get("/admin/users", headers={"accept": "text/html"}).text
    form = page[page.index('action="/admin/organizations"'):]
    r = client.post("/admin/organizations", data={"slug": "acme", "name": "ООО Акме", "csrf_token": csrf_of(form)})
    assert r.status_code == 303


def test_customer_cannot_open_admin_pages(client, make):
    make.user("customer", username="cust")
    login(client, "cust")
    r = client.get("/admin/audit", headers={"accept": "text/html"})
    assert r.status_code == 403 and "Недостаточно прав" in r.text


def test_new_user_form_preselects_no_role_and_disabling_asks_first_then_says_what_it_did(client, make):
    make.user("admin", username="root3")
    make.user("support", username="sveta", full_name="Светлана Опорная")
    login(client, "root3")
    page = client.get("/admin/users", headers={"accept": "text/html"}).text
    select = page[page.index('<select name="role"'):]
    select = select[:select.index("</select>")]
    assert re.findall(r'<option value="([a-z]*)"[^>]*selected', select) == [""]  # never «администратор» by default
    csrf = csrf_of(page)
    no_role = client.post("/admin/users", data={"username": "newbie", "password": "longenough", "csrf_token": csrf})
    assert no_role.status_code == 422 and 'value="newbie"' in no_role.text
    ask = client.post("/admin/users/sveta/disable", data={"csrf_token": csrf})
    assert ask.status_code == 200 and 'data-testid="confirm"' in ask.text and "Светлана Опорная" in ask.text
    # Nothing happened yet: she is still active (her row still offers «Отключить», not «Включить»).
    assert 'action="/admin/users/sveta/disable"' in client.get("/admin/users", headers={"accept": "text/html"}).text
    done = client.post("/admin/users/sveta/disable", data={"csrf_token": csrf, "confirmed": "true"})
    assert done.status_code == 303
    listing = client.get(done.headers["location"], headers={"accept": "text/html"}).text
    assert "Светлана Опорная отключён(а): войти больше нельзя" in listing
    assert 'action="/admin/users/sveta/enable"' in listing
    enabled = client.post("/admin/users/sveta/enable", data={"csrf_token": csrf})
    assert "Светлана Опорная снова может входить" in client.get(enabled.headers["location"]).text

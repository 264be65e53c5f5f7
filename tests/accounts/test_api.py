"""Authentication and accounts over real HTTP."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from portal.accounts.models import ApiToken
from portal.policy import SystemActor
from tests.factories import PASSWORD


def test_token_then_me(client, api, make):
    org = make.org("romashka", "ООО Ромашка")
    user = make.user("customer", org, username="ivanova")
    r = client.post("/api/v1/auth/token", json={"username": "ivanova", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["access_token"] and body["expires_at"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == user.username
    assert me.json()["role"] == "customer"
    assert me.json()["organization"] == {"slug": "romashka", "name": "ООО Ромашка"}


def test_wrong_password_is_401_with_message(client, make):
    make.user("support", username="sergey")
    r = client.post("/api/v1/auth/token", json={"username": "sergey", "password": "nope"})
    assert r.status_code == 401
    assert "Неверное имя пользователя или пароль" in r.json()["detail"]
    unknown = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "nope"})
    assert unknown.status_code == 401


def test_repeated_failures_are_slowed_then_refused(client, make, settings):
    make.user("support", username="target")
    timings = []
    for _ in range(settings.login_max_failures - 1):
        r = client.post("/api/v1/auth/token", json={"username": "target", "password": "bad"})
        assert r.status_code == 401
        timings.append(r.elapsed.total_seconds())
    assert timings[-1] >= 0.5, timings  # slowed after login_slowdown_after failures
    r = client.post("/api/v1/auth/token", json={"username": "target", "password": "bad"})
    assert r.status_code == 429
    assert "повторите через" in r.json()["detail"]
    # Even the right password is refused while locked, and says so.
    r = client.post("/api/v1/auth/token", json={"username": "target", "password": PASSWORD})
    assert r.status_code == 429
    assert "Retry-After" in r.headers


def test_lockout_is_recorded_in_audit(client, make, db, settings):
    from portal import audit

    make.user("support", username="victim")
    for _ in range(settings.login_max_failures):
        client.post("/api/v1/auth/token", json={"username": "victim", "password": "bad"})
    with db.session_scope(write=False) as s:
        entries = audit.query(s, action="auth.login_failed", object_id="victim")
        assert len(entries) == settings.login_max_failures
        assert entries[0].details["locked"] is True


def test_expired_token_is_refused(client, api, make, db):
    user = make.user("qa")
    headers = api.headers(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with db.session_scope() as s:
        s.execute(update(ApiToken).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 401
    assert "Срок действия токена истёк" in r.json()["detail"]


def test_personal_token_create_list_revoke(client, api, make):
    user = make.user("developer")
    created = api.post(user, "/api/v1/tokens", json={"name": "CI", "days": 7})
    assert created.status_code == 201
    token = created.json()["access_token"]
    personal = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=personal).json()["username"] == user.username
    listed = api.get(user, "/api/v1/tokens").json()
    assert [t["name"] for t in listed] == ["CI"]
    assert "access_token" not in listed[0] and token not in str(listed)
    revoked = api.delete(user, f"/api/v1/tokens/{listed[0]['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    r = client.get("/api/v1/me", headers=personal)
    assert r.status_code == 401 and "отозван" in r.json()["detail"]


def test_personal_token_of_another_user_cannot_be_revoked(api, make):
    a, b = make.user("developer"), make.user("developer")
    tid = api.post(a, "/api/v1/tokens", json={"name": "mine", "days": 1}).json()["id"]
    assert api.delete(b, f"/api/v1/tokens/{tid}").status_code == 404


def test_disable_and_password_change_end_sessions(client, api, make):
    admin = make.user("admin")
    user = make.user("writer")
    headers = api.headers(user)
    assert api.post(admin, f"/api/v1/users/{user.username}/disable").status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    r = client.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 401


def test_password_change_revokes_tokens(client, api, make, db):
    from portal.accounts import service

    user = make.user("writer")
    headers = api.headers(user)
    with db.session_scope() as s:
        service.set_password(session=s, actor=SystemActor.operator("test"), username=user.username, password="a-new-password-1")
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_bad_input_gets_clear_4xx(client, api, make):
    admin = make.user("admin")
    r = client.post("/api/v1/auth/token", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    r = client.post("/api/v1/auth/token", json={"username": 5, "password": "x", "extra": 1})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"username", "extra"}
    r = api.post(admin, "/api/v1/users", json={"username": "x1", "role": "wizard", "password": "longenough"})
    assert r.status_code == 422 and "неизвестная роль" in r.json()["detail"]
    r = api.post(admin, "/api/v1/users", json={"username": "c1", "role": "customer", "password": "longenough"})
    assert r.status_code == 422 and "должен принадлежать организации" in r.json()["detail"]
    r = api.post(admin, "/api/v1/users", json={"username": "c1", "role": "customer", "password": "longenough",
                                               "organization": "nowhere"})
    assert r.status_code == 404 and "nowhere" in r.json()["detail"]


def test_oversize_body_is_413(client, settings):
    big = b"x" * (settings.max_body_bytes + 10)
    r = client.post("/api/v1/auth/token", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "больше допустимого" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"y" * 65536

    r = client.post("/api/v1/auth/token", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_admin_creates_org_and_user_and_audit_shows_it(api, make):
    admin = make.user("admin", username="boss")
    assert api.post(admin, "/api/v1/organizations", json={"slug": "vector", "name": "АО Вектор"}).status_code == 201
    r = api.post(admin, "/api/v1/users", json={"username": "petrov", "role": "customer", "password": "longenough",
                                               "organization": "vector"})
    assert r.status_code == 201 and r.json()["organization"]["slug"] == "vector"
    entries = api.get(admin, "/api/v1/audit", params={"actor": "boss"}).json()
    assert {e["action"] for e in entries} >= {"org.create", "user.create"}


def test_non_admin_cannot_manage_users(api, make):
    writer = make.user("writer")
    customer = make.user("customer")
    for u in (writer, customer):
        assert api.get(u, "/api/v1/users").status_code == 403
        assert api.get(u, "/api/v1/audit").status_code == 403


def test_unknown_route_and_method(client):
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.delete("/api/v1/me").status_code == 405

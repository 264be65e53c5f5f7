"""Small factories that build test data through the real services (so audit and rules apply)."""

from __future__ import annotations

import itertools

from portal.accounts import service as accounts
from portal.accounts.models import Organization, User
from portal.policy import SystemActor

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


class Factory:
    def __init__(self, db):
        self.db = db

    def org(self, slug: str | None = None, name: str | None = None) -> Organization:
        n = next(_seq)
        with self.db.session_scope() as s:
            org = accounts.create_organization(session=s, actor=SystemActor.operator("test"), slug=slug or f"org{n}",
                                               name=name or f"ООО Организация {n}")
        return org

    def user(self, role: str = "customer", org: Organization | str | None = None, username: str | None = None,
             email: str | None = None, full_name: str = "") -> User:
        n = next(_seq)
        if role == "customer" and org is None:
            org = self.org()
        slug = org.slug if isinstance(org, Organization) else org
        username = username or f"{role}{n}"
        with self.db.session_scope() as s:
            user = accounts.create_user(session=s, actor=SystemActor.operator("test"), username=username, role=role,
                                        password=PASSWORD, organization=slug,
                                        email=email or f"{username}@example.test", full_name=full_name)
        return user


class ApiHelper:
    def __init__(self, client):
        self.client = client
        self._tokens: dict[str, str] = {}

    def token(self, user: User | str, password: str = PASSWORD) -> str:
        name = user if isinstance(user, str) else user.username
        if name not in self._tokens:
            r = self.client.post("/api/v1/auth/token", json={"username": name, "password": password})
            assert r.status_code == 200, r.text
            self._tokens[name] = r.json()["access_token"]
        return self._tokens[name]

    def headers(self, user: User | str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def get(self, user, url, **kw):
        return self.client.get(url, headers=self.headers(user), **kw)

    def post(self, user, url, **kw):
        return self.client.post(url, headers=self.headers(user), **kw)

    def put(self, user, url, **kw):
        return self.client.put(url, headers=self.headers(user), **kw)

    def delete(self, user, url, **kw):
        return self.client.delete(url, headers=self.headers(user), **kw)

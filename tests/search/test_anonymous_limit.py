"""The limit of anonymous searches per address (PORTAL_PUBLIC_KB=true), over real HTTP: two server processes'
worth of apps on one database (two nodes behind a proxy), started as ``portal serve --proxy-headers`` starts
them, so the address is the reader's from X-Forwarded-For."""

from __future__ import annotations

import datetime as dt
import threading

import httpx
import pytest
import uvicorn

from portal.app import create_app
from portal.db import utcnow
from portal.errors import TooManyRequests
from portal.search import throttle
from tests.conftest import LiveServer
from tests.factories import PASSWORD

LIMIT = 5


class ProxiedServer(LiveServer):
    """A node as ``portal serve --proxy-headers`` runs it: X-Forwarded-For trusted from the proxy (127.0.0.1)."""

    def __init__(self, app):
        super().__init__(app)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                proxy_headers=True, forwarded_allow_ips="127.0.0.1")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)


@pytest.fixture
def limited(settings):
    return settings.model_copy(update={"public_kb": True, "anonymous_search_per_minute": LIMIT})


@pytest.fixture
def nodes(limited, content_repo, kb):
    servers = [ProxiedServer(create_app(limited)) for _ in range(2)]
    for s in servers:
        s.start()
    clients = [httpx.Client(base_url=s.url, timeout=30) for s in servers]
    yield clients
    for c in clients:
        c.close()
    for s in servers:
        s.stop()


def reader(address: str, lang: str = "ru") -> dict[str, str]:
    return {"X-Forwarded-For": address, "Accept-Language": lang}


def test_an_address_is_limited_across_nodes_and_told_when_to_come_back(nodes):
    a, b = nodes
    answers = [(a if n % 2 else b).get("/api/v1/search", params={"q": "капча"}, headers=reader("203.0.113.5"))
               for n in range(LIMIT)]
    assert [r.status_code for r in answers] == [200] * LIMIT
    assert "captcha" in [h["slug"] for h in answers[0].json()["hits"]]
    # The sixth of the minute, on either node, and a suggestion too (the same counter).
    for client, url in ((a, "/api/v1/search"), (b, "/api/v1/search/suggest")):
        refused = client.get(url, params={"q": "капча"}, headers=reader("203.0.113.5"))
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert f"не больше {LIMIT} в минуту" in refused.json()["detail"]
        assert f"через {refused.headers['retry-after']} с" in refused.json()["detail"]
    english = b.get("/api/v1/search", params={"q": "капча"}, headers=reader("203.0.113.5", "en"))
    assert english.status_code == 429 and f"at most {LIMIT} a minute" in english.json()["detail"]
    # Another reader behind the same proxy is counted apart.
    assert a.get("/api/v1/search", params={"q": "капча"}, headers=reader("203.0.113.6")).status_code == 200


def test_signed_in_readers_are_not_limited(nodes, make):
    a, _b = nodes
    user = make.user("customer", org=make.org())
    token = a.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
    headers = {**reader("203.0.113.7"), "Authorization": f"Bearer {token.json()['access_token']}"}
    for _ in range(LIMIT * 2):
        assert a.get("/api/v1/search", params={"q": "капча"}, headers=headers).status_code == 200
    # The same address without the token is still counted from zero: the signed-in searches were not counted.
    for _ in range(LIMIT):
        assert a.get("/api/v1/search", params={"q": "капча"}, headers=reader("203.0.113.7")).status_code == 200
    assert a.get("/api/v1/search", params={"q": "капча"}, headers=reader("203.0.113.7")).status_code == 429


def test_the_count_starts_again_with_the_next_minute(limited, db):
    start = utcnow()
    for n in range(1, LIMIT + 1):
        assert throttle.count_anonymous(db=db, settings=limited, address="198.51.100.1", now=start) == n
    with pytest.raises(TooManyRequests) as refused:
        throttle.count_anonymous(db=db, settings=limited, address="198.51.100.1",
                                 now=start + dt.timedelta(seconds=45))
    assert refused.value.headers["Retry-After"] == "15"
    later = start + throttle.WINDOW + dt.timedelta(seconds=1)
    assert throttle.count_anonymous(db=db, settings=limited, address="198.51.100.1", now=later) == 1

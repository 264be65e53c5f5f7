"""Downloads handed to nginx (``PORTAL_ACCEL_REDIRECT``): the portal authorises, checks and logs, nginx sends
the bytes from the blob store's directory with Range — a real ``portal serve`` behind Debian's nginx."""

from __future__ import annotations

import hashlib
import os
import uuid

import httpx
import pytest
from sqlalchemy import select

from portal.config import Settings
from portal.db import Database
from portal.releases.models import Download
from tests.nodes import cluster

DEMO_PASSWORD = "demo-password"
PREFIX = "/_protected/"


@pytest.fixture(scope="module")
def behind_nginx(tmp_path_factory):
    folder = tmp_path_factory.mktemp("accel")
    home = folder / "home"
    env = {**os.environ, "PORTAL_HOME": str(home), "PORTAL_SECRET_KEY": cluster.SECRET,
           "PORTAL_ACCEL_REDIRECT": PREFIX, "PORTAL_LOG_LEVEL": "warning", "PORTAL_RUN_JOBS": "false"}
    for name in ("PORTAL_DATABASE_URL", "PORTAL_BLOB_STORE", "PORTAL_CONTENT_REMOTE", "PORTAL_FAULT_POINT"):
        env.pop(name, None)
    cluster.portal_command(env, "init", "--demo", "--admin-password", "admin-test-password")
    node = cluster.Node("accel", env, folder).start()
    proxy = None
    try:
        proxy = cluster.Nginx(folder / "nginx", [node.port],
                              extra=cluster.accel_location(PREFIX, home / "blobs")).start()
        db = Database(Settings(home=home, secret_key=cluster.SECRET))
        yield node, proxy, db
        db.dispose()
    finally:
        if proxy is not None:
            proxy.stop()
        node.stop()


def test_nginx_sends_the_bytes_the_portal_authorised_and_logged(behind_nginx):
    node, proxy, db = behind_nginx
    support = node.token("support", DEMO_PASSWORD)
    data = os.urandom(3 * 1024 * 1024 + 17)
    package_id = f"fix-accel-{uuid.uuid4().hex[:6]}"
    form = {"id": package_id, "title": "Исправление через nginx", "version": "5.2.1-hf8", "organizations": "all"}
    r = httpx.post(f"{proxy.url}/api/v1/packages", headers=support, data=form, timeout=120,
                   files={"file": ("Отчёт агента.bin", data, "application/octet-stream")})
    assert r.status_code == 201, r.text
    url = f"{proxy.url}/api/v1/packages/{package_id}/files/Отчёт агента.bin"

    whole = httpx.get(url, headers=support, timeout=60)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["x-checksum-sha256"] == hashlib.sha256(data).hexdigest()
    assert "filename*=UTF-8''%D0%9E%D1%82%D1%87%D1%91%D1%82" in whole.headers["content-disposition"]
    assert "x-accel-redirect" not in whole.headers  # nginx consumed it
    etag = whole.headers["etag"]
    assert etag == f'"sha256-{hashlib.sha256(data).hexdigest()}"'

    part = httpx.get(url, headers={**support, "Range": "bytes=1000000-1000999"}, timeout=60)
    assert part.status_code == 206 and part.content == data[1000000:1001000]
    assert part.headers["content-range"] == f"bytes 1000000-1000999/{len(data)}"
    resumed = httpx.get(url, headers={**support, "Range": "bytes=3000000-", "If-Range": etag}, timeout=60)
    assert resumed.status_code == 206 and resumed.content == data[3000000:]
    other = httpx.get(url, headers={**support, "Range": "bytes=3000000-", "If-Range": '"sha256-other"'}, timeout=60)
    assert other.status_code == 200 and other.content == data  # the client's partial copy is of something else

    # The internal location is not reachable from outside; a customer of no entitled … a stranger gets nothing.
    assert httpx.get(f"{proxy.url}{PREFIX}sha256/", timeout=30).status_code == 404
    assert httpx.get(url, timeout=30).status_code in (401, 303)

    with db.session_scope(write=False) as s:
        rows = list(s.scalars(select(Download).where(Download.package_id == package_id).order_by(Download.id)))
        logged = [(row.range_start, row.range_end, row.bytes_sent, row.status_code) for row in rows]
    assert logged[:3] == [(0, len(data) - 1, len(data), 200), (1000000, 1000999, 1000, 206),
                          (3000000, len(data) - 1, len(data) - 3000000, 206)]


def test_attachments_are_handed_to_nginx_too(behind_nginx):
    node, proxy, _ = behind_nginx
    customer = node.token("ivanova", DEMO_PASSWORD)
    module = httpx.get(f"{proxy.url}/api/v1/catalogue/modules", headers=customer, timeout=30).json()[0]["name"]
    version = httpx.get(f"{proxy.url}/api/v1/catalogue/versions", headers=customer, timeout=30).json()[0]["name"]
    ticket = httpx.post(f"{proxy.url}/api/v1/tickets", headers=customer, timeout=60, json={
        "kind": "consultation", "module": module, "product_version": version, "priority": "low",
        "summary": "Журнал агента", "description": "Прикладываю журнал.",
        "contact": {"name": "Анна Иванова", "email": "ivanova@romashka.example", "phone": ""}})
    assert ticket.status_code == 201, ticket.text
    data = os.urandom(2 * 1024 * 1024 + 3)
    att = httpx.post(f"{proxy.url}/api/v1/tickets/{ticket.json()['id']}/attachments", headers=customer, timeout=60,
                     files={"file": ("agent.har", data, "application/json")}).json()
    whole = httpx.get(proxy.url + att["url"], headers=customer, timeout=60)
    assert whole.status_code == 200 and whole.content == data and "x-accel-redirect" not in whole.headers
    part = httpx.get(proxy.url + att["url"], headers={**customer, "Range": "bytes=100-199", "If-Range": whole.headers["etag"]},
                     timeout=60)
    assert part.status_code == 206 and part.content == data[100:200]

"""Files chosen in a refused form are kept server-side (portal/tickets/staged.py), over real HTTP: the new-ticket
form and the reply form list them after the refusal and attach them when resent; another person's, a forged or
an unticked token attaches nothing; staged bytes nobody attached are swept after the grace period."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time

import httpx

from portal import blobs, storage
from tests.accounts.test_pages import csrf_of, login
from tests.tickets.helpers import body, catalogue

HAR = b'{"log": {"entries": []}}' * 400


def _ticket_fields(**overrides) -> dict:
    fields = {k: v for k, v in body().items() if k != "contact"}
    fields.update(contact_name="Анна Иванова", contact_email="anna@romashka.example", **overrides)
    return fields


def _kept(page_text: str) -> list[tuple[str, str]]:
    """(token, what the person reads) of each kept file the page lists."""
    return re.findall(r'<input type="checkbox" name="staged" value="([^"]+)" checked> ([^<]+<span class="muted">'
                      r'\([^)]+\))', page_text)


def _refused_with_file(client) -> str:
    """Send the new-ticket form without a module, with a file; the token the refused form keeps it under."""
    csrf = csrf_of(client.get("/tickets/new").text)
    r = client.post("/tickets/new", data={"csrf_token": csrf, **_ticket_fields(module="")},
                    files={"attachments": ("session.har", HAR, "application/json")})
    assert r.status_code == 422
    assert 'data-field="module"' in r.text and "Агент не отправляет данные" in r.text
    kept = _kept(r.text)
    assert len(kept) == 1 and kept[0][1].startswith("session.har") and "КБ" in kept[0][1]
    return kept[0][0]


def _attachments_of(client, location: str) -> dict[str, bytes]:
    page = client.get(location).text
    links = re.findall(r'<a href="(/tickets/[^"]+/attachments/\d+)">([^<]+)</a>', page)
    return {name: client.get(url).content for url, name in links}


def test_new_ticket_refused_keeps_the_file_and_attaches_it_when_resent(client, make, db, settings):
    catalogue(db)
    make.user("customer", make.org("romashka"), username="anna")
    login(client, "anna")
    token = _refused_with_file(client)
    page = client.get("/tickets/new")
    r = client.post("/tickets/new", data={"csrf_token": csrf_of(page.text), **_ticket_fields(), "staged": token},
                    files={"attachments": ("agent.log", b"ERROR 42", "text/plain")})
    assert r.status_code == 303, r.text
    assert _attachments_of(client, r.headers["location"]) == {"session.har": HAR, "agent.log": b"ERROR 42"}


def test_a_refused_file_is_named_and_the_others_are_kept(client, make, db):
    catalogue(db)
    make.user("customer", make.org("romashka"), username="anna")
    login(client, "anna")
    csrf = csrf_of(client.get("/tickets/new").text)
    r = client.post("/tickets/new", data={"csrf_token": csrf, **_ticket_fields()},
                    files=[("attachments", ("session.har", HAR, "application/json")),
                           ("attachments", ("empty.log", b"", "text/plain"))])
    assert r.status_code == 422
    assert re.search(r'data-field="attachments">«empty.log»: [^<]*пуст', r.text), r.text
    assert [shown.split(" ")[0] for _, shown in _kept(r.text)] == ["session.har"]
    assert "Агент не отправляет данные" in r.text  # and what was typed is there too


def test_unticked_forged_or_another_persons_token_attaches_nothing(client, live_server, make, db):
    catalogue(db)
    org = make.org("romashka")
    make.user("customer", org, username="anna")
    make.user("customer", make.org("vector"), username="petr")
    with httpx.Client(base_url=live_server.url, timeout=30, follow_redirects=False) as other:
        login(other, "petr")
        petrs_token = _refused_with_file(other)
    login(client, "anna")
    annas_token = _refused_with_file(client)
    encoded, signature = annas_token.rsplit(".", 1)
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    payload[1] = hashlib.sha256(b"someone else's bytes").hexdigest()
    forged_payload = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    for tokens in ([petrs_token], [f"{forged_payload}.{signature}"], ["not-a-token"], []):
        csrf = csrf_of(client.get("/tickets/new").text)
        r = client.post("/tickets/new", data={"csrf_token": csrf, **_ticket_fields(), "staged": tokens})
        assert r.status_code == 303, r.text
        assert _attachments_of(client, r.headers["location"]) == {}, tokens
    csrf = csrf_of(client.get("/tickets/new").text)
    r = client.post("/tickets/new", data={"csrf_token": csrf, **_ticket_fields(), "staged": [annas_token] * 2})
    assert _attachments_of(client, r.headers["location"]) == {"session.har": HAR}  # her own, once


def test_reply_refused_keeps_the_reply_and_the_files(client, api, make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"), username="anna")
    tid = api.post(customer, "/api/v1/tickets", json=body()).json()["id"]
    login(client, "anna")
    page = client.get(f"/tickets/{tid}")
    r = client.post(f"/tickets/{tid}/comments", data={"csrf_token": csrf_of(page.text), "body": "Вот HAR-файл"},
                    files=[("files", ("session.har", HAR, "application/json")),
                           ("files", ("empty.log", b"", "text/plain"))])
    assert r.status_code == 422
    assert "Вот HAR-файл" in r.text and re.search(r'data-field="files">«empty.log»: [^<]*пуст', r.text)
    (token, shown), = _kept(r.text)
    assert shown.startswith("session.har")
    r = client.post(f"/tickets/{tid}/comments", data={"csrf_token": csrf_of(r.text), "body": "Вот HAR-файл",
                                                      "staged": token})
    assert r.status_code == 303
    assert _attachments_of(client, f"/tickets/{tid}") == {"session.har": HAR}
    assert "Вот HAR-файл" in client.get(f"/tickets/{tid}").text


def test_staged_bytes_nobody_attached_are_swept_after_the_grace_period(client, make, db, settings):
    catalogue(db)
    make.user("customer", make.org("romashka"), username="anna")
    login(client, "anna")
    token = _refused_with_file(client)
    store = blobs.blob_store(settings)
    sha256 = hashlib.sha256(HAR).hexdigest()
    storage.sweep(settings=settings, db=db)
    assert store.exists(sha256)  # young: the customer may still resend the form
    old = time.time() - settings.blob_grace_hours * 3600 - 60
    os.utime(store.path(sha256), (old, old))
    storage.sweep(settings=settings, db=db)
    assert not store.exists(sha256)
    csrf = csrf_of(client.get("/tickets/new").text)
    r = client.post("/tickets/new", data={"csrf_token": csrf, **_ticket_fields(), "staged": token})
    assert r.status_code == 303 and _attachments_of(client, r.headers["location"]) == {}

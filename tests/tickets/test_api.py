"""The tickets API over real HTTP: registration, validation in Russian, isolation, the workflow's answers."""

from __future__ import annotations

import datetime as dt

from tests.tickets.helpers import body, catalogue


def test_customer_registers_and_gets_id_status_and_deadline(api, make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"))
    r = api.post(customer, "/api/v1/tickets", json=body())
    assert r.status_code == 201, r.text
    t = r.json()
    year = dt.datetime.now(dt.UTC).year
    assert t["id"] == f"PRM-{year}-00001"
    assert t["status"] == "new" and t["priority"] == "high" and t["channel"] == "portal"
    registered = dt.datetime.fromisoformat(t["registered_at"])
    assert dt.datetime.fromisoformat(t["sla_reaction_due"]) - registered == dt.timedelta(hours=16)
    assert t["organization"]["slug"] == "romashka"
    assert [e["kind"] for e in t["history"]] == ["created"]
    second = api.post(customer, "/api/v1/tickets", json=body(priority="critical")).json()
    assert second["id"] == f"PRM-{year}-00002"


def test_missing_fields_are_named_in_russian(api, make, db):
    catalogue(db)
    customer = make.user("customer")
    r = api.post(customer, "/api/v1/tickets", json={"kind": "problem", "contact": {"name": "", "email": ""}})
    assert r.status_code == 422
    errors = {e["field"]: e for e in r.json()["errors"]}
    assert set(errors) >= {"module", "product_version", "summary", "description", "steps_to_reproduce", "priority"}
    assert errors["module"]["label"] == "Модуль"
    assert "шаги воспроизведения" in errors["steps_to_reproduce"]["message"]
    assert "Версия продукта" in r.json()["detail"]


def test_unknown_catalogue_values_and_bad_kinds(api, make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"))
    r = api.post(customer, "/api/v1/tickets", json=body(module="Нет такого", kind="urgent", priority="asap",
                                                         contact={"name": "Анна", "email": "не-почта"}))
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"module", "kind", "priority", "contact.email"}
    support = make.user("support")
    r = api.post(support, "/api/v1/tickets", json=body(contact={"name": "Анна", "email": "", "phone": ""},
                                                        organization="romashka", channel="email"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contact"
    # A customer who leaves the contacts out is reached at their own name and e-mail.
    r = api.post(customer, "/api/v1/tickets", json=body(contact=None))
    assert r.status_code == 201 and r.json()["contact"]["email"] == customer.email
    assert api.post(customer, "/api/v1/tickets", json=body(colour="red")).status_code == 422
    headers = {**api.headers(customer), "content-type": "application/json"}
    assert api.client.post("/api/v1/tickets", content=b"{nope", headers=headers).status_code == 400


def test_steps_are_optional_for_a_consultation(api, make, db):
    catalogue(db)
    customer = make.user("customer")
    r = api.post(customer, "/api/v1/tickets", json=body(kind="consultation", steps_to_reproduce=""))
    assert r.status_code == 201, r.text


def test_staff_register_on_behalf_with_organisation_and_channel(api, make, db):
    catalogue(db)
    make.org("vector", "АО Вектор")
    support = make.user("support")
    r = api.post(support, "/api/v1/tickets", json=body())
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"organization", "channel"}
    r = api.post(support, "/api/v1/tickets", json=body(organization="vector", channel="phone"))
    assert r.status_code == 201, r.text
    assert r.json()["organization"]["slug"] == "vector" and r.json()["channel"] == "phone"
    developer = make.user("developer")
    assert api.post(developer, "/api/v1/tickets", json=body(organization="vector", channel="phone")).status_code == 403


def test_customer_cannot_file_for_another_organisation(api, make, db):
    catalogue(db)
    make.org("vector")
    customer = make.user("customer", make.org("romashka"))
    r = api.post(customer, "/api/v1/tickets", json=body(organization="vector"))
    assert r.status_code == 403


def test_unsupported_version_is_accepted_and_flagged(api, make, db):
    catalogue(db)
    customer = make.user("customer")
    support = make.user("support")
    t = api.post(customer, "/api/v1/tickets", json=body(product_version="5.0")).json()
    assert t["version_unsupported"] is True
    r = api.post(support, f"/api/v1/tickets/{t['id']}/status", json={"status": "deferred",
                                                                    "reason": "unsupported_version"})
    assert r.status_code == 200, r.text
    assert r.json()["defer_reason"] == "unsupported_version"
    assert "больше не поддерживается" in r.json()["history"][-1]["details"]["reason_text"]


def test_another_organisations_ticket_is_404_like_an_unknown_one(api, make, db):
    catalogue(db)
    romashka, vector = make.user("customer", make.org("romashka")), make.user("customer", make.org("vector"))
    t = api.post(romashka, "/api/v1/tickets", json=body()).json()
    foreign = api.get(vector, f"/api/v1/tickets/{t['id']}")
    unknown = api.get(vector, "/api/v1/tickets/PRM-2026-99999")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"].replace(t["id"], "X") == unknown.json()["detail"].replace("PRM-2026-99999", "X")
    for path, payload in (("status", {"status": "closed"}), ("comments", {"body": "hi"}),
                          ("priority", {"priority": "low", "reason": "x"}), ("eta", {"eta": "2030-01-01"})):
        assert api.post(vector, f"/api/v1/tickets/{t['id']}/{path}", json=payload).status_code == 404
    assert api.get(vector, "/api/v1/tickets").json() == []
    assert [x["id"] for x in api.get(romashka, "/api/v1/tickets").json()] == [t["id"]]


def test_illegal_transition_is_409_listing_allowed_states(api, make, db):
    catalogue(db)
    customer, support = make.user("customer"), make.user("support")
    t = api.post(customer, "/api/v1/tickets", json=body()).json()
    r = api.post(support, f"/api/v1/tickets/{t['id']}/status", json={"status": "resolved", "solution": "x"})
    assert r.status_code == 409
    assert set(r.json()["allowed"]) == {"in_analysis", "awaiting_info", "escalated", "deferred"}
    assert "в анализе" in r.json()["detail"]
    r = api.post(support, f"/api/v1/tickets/{t['id']}/status", json={"status": "flying"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"


def test_customer_sees_status_eta_and_priority_reason_but_no_internal_comment(api, make, db):
    catalogue(db)
    customer, support, developer = make.user("customer"), make.user("support"), make.user("developer")
    tid = api.post(customer, "/api/v1/tickets", json=body(priority="critical")).json()["id"]
    assert api.post(support, f"/api/v1/tickets/{tid}/status", json={"status": "escalated"}).status_code == 200
    r = api.post(support, f"/api/v1/tickets/{tid}/priority", json={"priority": "medium"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = api.post(support, f"/api/v1/tickets/{tid}/priority",
                 json={"priority": "medium", "reason": "Есть обходной путь"})
    assert r.status_code == 200
    assert api.post(support, f"/api/v1/tickets/{tid}/comments",
                    json={"body": "секретная заметка", "public": False}).status_code == 201
    assert api.post(support, f"/api/v1/tickets/{tid}/eta", json={"eta": "2031-01-10"}).status_code == 403
    r = api.post(developer, f"/api/v1/tickets/{tid}/eta", json={"eta": "2031-01-10", "comment": "В 5.2.1"})
    assert r.status_code == 200, r.text
    seen = api.get(customer, f"/api/v1/tickets/{tid}").json()
    assert seen["status"] == "escalated" and seen["priority"] == "medium"
    assert seen["eta"].startswith("2031-01-10")
    kinds = [e["kind"] for e in seen["history"]]
    assert "comment" not in kinds
    priority_event = next(e for e in seen["history"] if e["kind"] == "priority")
    assert priority_event["comment"] == "Есть обходной путь"
    assert priority_event["details"]["from"] == "critical" and priority_event["details"]["to"] == "medium"
    staff_view = api.get(support, f"/api/v1/tickets/{tid}").json()
    assert any(e["comment"] == "секретная заметка" and not e["public"] for e in staff_view["history"])
    assert api.post(customer, f"/api/v1/tickets/{tid}/comments",
                    json={"body": "x", "public": False}).status_code == 403


def test_list_filters_and_queue_order(api, make, db):
    catalogue(db)
    a, b = make.org("romashka"), make.org("vector")
    ca, cb, support = make.user("customer", a), make.user("customer", b), make.user("support")
    first = api.post(ca, "/api/v1/tickets", json=body(priority="low")).json()["id"]
    second = api.post(cb, "/api/v1/tickets", json=body(priority="critical")).json()["id"]
    third = api.post(ca, "/api/v1/tickets", json=body(priority="critical")).json()["id"]
    api.post(support, f"/api/v1/tickets/{second}/assign", json={"assignee": support.username})
    assert [t["id"] for t in api.get(support, "/api/v1/tickets").json()] == [third, second, first]
    assert [t["id"] for t in api.get(support, "/api/v1/tickets?order=arrival").json()] == [first, second, third]
    assert [t["id"] for t in api.get(support, "/api/v1/tickets?priority=critical&organization=romashka").json()] \
        == [third]
    assert [t["id"] for t in api.get(support, f"/api/v1/tickets?assignee={support.username}").json()] == [second]
    assert len(api.get(support, "/api/v1/tickets?assignee=none").json()) == 2
    assert len(api.get(support, "/api/v1/tickets?limit=1&offset=1").json()) == 1
    r = api.get(support, "/api/v1/tickets?priority=urgent")
    assert r.status_code == 422


def test_attachments_are_stored_once_and_downloadable(api, make, db, settings):
    catalogue(db)
    customer, other = make.user("customer"), make.user("customer")
    tid = api.post(customer, "/api/v1/tickets", json=body()).json()["id"]
    files = {"file": ("agent.log", b"ERROR csp violation\n" * 100, "text/plain")}
    r = api.post(customer, f"/api/v1/tickets/{tid}/attachments", files=files)
    assert r.status_code == 201, r.text
    att = r.json()
    again = api.post(customer, f"/api/v1/tickets/{tid}/attachments", files=files).json()
    assert again["sha256"] == att["sha256"]
    stored = list((settings.blobs_path / "sha256").rglob("*"))
    assert len([p for p in stored if p.is_file()]) == 1
    got = api.get(customer, att["url"])
    assert got.status_code == 200 and got.content == b"ERROR csp violation\n" * 100
    assert "attachment" in got.headers["content-disposition"]
    assert api.get(other, att["url"]).status_code == 404
    bad = api.post(customer, f"/api/v1/tickets/{tid}/attachments", files={"file": ("../../etc/passwd", b"x")})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "filename"


def test_oversized_attachment_is_refused_and_leaves_nothing(api, make, db, settings):
    catalogue(db)
    customer = make.user("customer")
    tid = api.post(customer, "/api/v1/tickets", json=body()).json()["id"]
    big = b"x" * (settings.max_attachment_bytes + 1)
    r = api.post(customer, f"/api/v1/tickets/{tid}/attachments", files={"file": ("big.bin", big)})
    assert r.status_code == 413
    assert not list((settings.blobs_path / "tmp").glob("*"))
    assert api.get(customer, f"/api/v1/tickets/{tid}").json()["attachments"] == []


def test_attachment_to_a_ticket_not_yours_stores_no_bytes(api, make, db, settings):
    # The reader's right to the ticket is asked before the bytes are stored (they are stored outside the write
    # transaction), so another organisation's ticket gets the 404 of a missing one and the store stays empty.
    catalogue(db)
    owner, stranger = make.user("customer"), make.user("customer")
    tid = api.post(owner, "/api/v1/tickets", json=body()).json()["id"]
    files = {"file": ("agent.log", b"secret-free bytes\n" * 10, "text/plain")}
    theirs = api.post(stranger, f"/api/v1/tickets/{tid}/attachments", files=files)
    missing = api.post(stranger, "/api/v1/tickets/PRM-2026-99999/attachments", files=files)
    assert theirs.status_code == missing.status_code == 404
    assert not [p for p in (settings.blobs_path / "sha256").rglob("*") if p.is_file()]

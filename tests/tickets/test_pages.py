"""Ticket pages over real HTTP: the form keeps input and names fields, the ticket page, queue, SLA report, catalogue."""

from __future__ import annotations

import re

from tests.accounts.test_pages import csrf_of, login
from tests.tickets.helpers import body, catalogue


def _form(client):
    page = client.get("/tickets/new")
    assert page.status_code == 200
    return page, csrf_of(page.text)


def test_form_shows_regulation_priorities_and_keeps_input_with_errors(client, make, db):
    catalogue(db)
    make.user("customer", make.org("romashka"), username="anna", full_name="Анна Иванова")
    login(client, "anna")
    page, csrf = _form(client)
    assert "нет возможности обходного решения" in page.text  # the regulation's words for «высокий»
    assert "время реакции 16 ч" in page.text
    assert 'value="Анна Иванова"' in page.text
    form = page.text[page.text.index('data-testid="new-ticket"'):]
    assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]+"', form[:500])
    r = client.post("/tickets/new", data={"csrf_token": csrf, "kind": "problem", "summary": "Нет данных RUM",
                                          "description": "Пропали данные", "priority": "high"})
    assert r.status_code == 422
    assert 'value="Нет данных RUM"' in r.text and "Пропали данные" in r.text
    errors = dict(re.findall(r'data-field="([a-z_]+)">([^<]+)<', r.text))
    assert set(errors) == {"module", "product_version", "steps_to_reproduce"}
    assert "шаги воспроизведения" in errors["steps_to_reproduce"]


def test_customer_files_with_attachment_and_follows_it(client, make, db):
    catalogue(db)
    make.user("customer", make.org("romashka"), username="anna")
    login(client, "anna")
    _, csrf = _form(client)
    data = {"csrf_token": csrf, **{k: v for k, v in body().items() if k != "contact"},
            "contact_name": "Анна", "contact_email": "anna@romashka.example"}
    r = client.post("/tickets/new", data=data, files={"attachments": ("agent.log", b"ERROR 42", "text/plain")})
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    page = client.get(url)
    assert page.status_code == 200
    assert "agent.log" in page.text and "новая" in page.text and "Заявка зарегистрирована" in page.text
    tid = re.search(r"/tickets/([A-Z0-9-]+)", url).group(1)
    found = client.get(f"/tickets/find?id={tid.lower()}")
    assert found.status_code == 303 and found.headers["location"] == f"/tickets/{tid}"
    download = client.get(re.search(r'href="(/tickets/[^"]+/attachments/\d+)"', page.text).group(1))
    assert download.content == b"ERROR 42"


def test_other_organisation_ticket_page_is_404(client, api, make, db):
    catalogue(db)
    owner = make.user("customer", make.org("romashka"))
    make.user("customer", make.org("vector"), username="petr")
    tid = api.post(owner, "/api/v1/tickets", json=body()).json()["id"]
    login(client, "petr")
    for url in (f"/tickets/{tid}", f"/tickets/find?id={tid}"):
        r = client.get(url, headers={"accept": "text/html"})
        assert r.status_code == 404 and "Summary" not in r.text


def test_support_takes_from_queue_then_illegal_move_shows_allowed(client, api, make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"))
    make.user("support", username="sergey")
    tid = api.post(customer, "/api/v1/tickets", json=body(priority="critical")).json()["id"]
    login(client, "sergey")
    queue = client.get("/tickets/queue")
    assert queue.status_code == 200 and tid in queue.text and "осталось" in queue.text
    r = client.post(f"/tickets/{tid}/take", data={"csrf_token": csrf_of(queue.text)})
    assert r.status_code == 303
    page = client.get(f"/tickets/{tid}")
    assert "в анализе" in page.text
    r = client.post(f"/tickets/{tid}/act/close", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and "недоступен" in client.get(r.headers["location"]).text
    r = client.post(f"/tickets/{tid}/act/request_info", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and 'data-field="comment"' in r.text
    r = client.post(f"/tickets/{tid}/comments", data={"csrf_token": csrf_of(page.text), "body": "Внутреннее",
                                                      "internal": "true"})
    assert r.status_code == 303
    seen = api.get(customer, f"/api/v1/tickets/{tid}").json()
    assert all(e["comment"] != "Внутреннее" for e in seen["history"])


def test_form_post_without_csrf_is_refused(client, make, db):
    catalogue(db)
    make.user("customer", username="anna")
    login(client, "anna")
    r = client.post("/tickets/new", data={"summary": "x"})
    assert r.status_code == 403


def test_sla_report_page_chart_and_csv(client, api, make, db):
    catalogue(db)
    customer = make.user("customer")
    make.user("support", username="sergey")
    tid = api.post(customer, "/api/v1/tickets", json=body(priority="critical")).json()["id"]
    api.post(customer, "/api/v1/tickets", json=body(priority="low"))
    api.post("sergey", f"/api/v1/tickets/{tid}/status", json={"status": "in_analysis"})
    login(client, "sergey")
    page = client.get("/tickets/sla")
    assert page.status_code == 200 and "<svg" in page.text and 'class="sla-met"' in page.text
    csv = client.get("/tickets/sla?format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    rows = {line.split(",")[0]: line.split(",") for line in csv.text.strip().splitlines()}
    assert rows["critical"][1:4] == ["1", "1", "0"] and rows["low"][1] == "1" and rows["total"][1] == "2"
    report = api.get("sergey", "/api/v1/tickets/sla-report?since=2020-01-01&until=2099-12-31").json()
    assert report["rows"][-1]["total"] == 2
    assert client.get("/tickets/sla?since=вчера", headers={"accept": "text/html"}).status_code == 422
    customer_page = api.get(customer, "/api/v1/tickets/sla-report?since=2020-01-01&until=2099-12-31")
    assert customer_page.status_code == 403


def test_catalogue_admin_page(client, make, db):
    catalogue(db)
    make.user("admin", username="boss")
    login(client, "boss")
    page = client.get("/admin/catalogue")
    assert page.status_code == 200 and "RUM-агент" in page.text
    csrf = csrf_of(page.text)
    assert client.post("/admin/catalogue/modules", data={"csrf_token": csrf, "name": "Панели и отчёты"}).status_code == 303
    r = client.post("/admin/catalogue/versions", data={"csrf_token": csrf, "name": "5/3"})
    assert r.status_code == 422 and 'data-field="version_name"' in r.text
    assert client.post("/admin/catalogue/versions/5.2/support", data={"csrf_token": csrf}).status_code == 303
    assert "больше не поддерживается" in client.get("/admin/catalogue").text.split("5.2")[1][:200]


def test_dashboards(client, api, make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"), username="anna")
    make.user("support", username="sergey")
    tid = api.post(customer, "/api/v1/tickets", json=body()).json()["id"]
    login(client, "anna")
    assert tid in client.get("/").text
    client.cookies.clear()
    login(client, "sergey")
    home = client.get("/")
    assert 'data-testid="dashboard-queue"' in home.text and tid in home.text


def test_history_dates_in_portal_time_zone_one_format(client, api, make, db):
    catalogue(db)
    customer = make.user("customer", make.org("romashka"), username="anna")
    support, developer = make.user("support"), make.user("developer")
    tid = api.post(customer, "/api/v1/tickets", json=body()).json()["id"]
    assert api.post(support, f"/api/v1/tickets/{tid}/status", json={"status": "escalated"}).status_code == 200
    assert api.post(developer, f"/api/v1/tickets/{tid}/eta", json={"eta": "2031-03-15"}).status_code == 200
    login(client, "anna")
    page = client.get(f"/tickets/{tid}").text
    history = page[page.index('data-testid="history"'):]
    # The end of 15 March in Moscow, as in the ticket's header — not «2031-03-15 20:59» (ISO, UTC).
    assert re.search(r'data-testid="event-eta">15\.03\.2031 23:59<', history)
    assert "2031-03-15" not in page
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d", history)


def test_find_by_bare_number_or_part_of_id_never_reveals_another_organisation(client, api, make, db):
    catalogue(db)
    anna = make.user("customer", make.org("romashka"), username="anna")
    petr = make.user("customer", make.org("vector"), username="petr")
    first = api.post(anna, "/api/v1/tickets", json=body()).json()["id"]  # PRM-<year>-00001
    foreign = api.post(petr, "/api/v1/tickets", json=body()).json()["id"]  # PRM-<year>-00002, Вектор's
    third = api.post(anna, "/api/v1/tickets", json=body()).json()["id"]  # PRM-<year>-00003
    year = first.split("-")[1]
    assert (first, foreign, third) == (f"PRM-{year}-00001", f"PRM-{year}-00002", f"PRM-{year}-00003")
    login(client, "anna")
    html = {"accept": "text/html"}
    for typed, ticket in (("1", first), (" 3 ", third), (f"prm-{year}-3", third), (f"{year}-00001", first),
                          (first.lower(), first)):
        r = client.get("/tickets/find", params={"id": typed}, headers=html)
        assert r.status_code == 303 and r.headers["location"] == f"/tickets/{ticket}", (typed, r.status_code)
    # A part of an ID lists the reader's tickets it matches — never Вектор's.
    r = client.get("/tickets/find", params={"id": f"{year}-0000"}, headers=html)
    assert r.status_code == 200 and first in r.text and third in r.text and foreign not in r.text
    assert 'data-testid="found"' in r.text
    # Вектор's ticket by number, by full ID or as the only match of a part answers exactly like a missing one.
    for typed, missing in (("2", "9"), (foreign, f"PRM-{year}-00009"), (f"{year}-00002", f"{year}-00009")):
        hidden = client.get("/tickets/find", params={"id": typed}, headers=html)
        absent = client.get("/tickets/find", params={"id": missing}, headers=html)
        assert hidden.status_code == absent.status_code == 404, (typed, hidden.status_code)
        main = [r.text[r.text.index("<main>"):r.text.index("</main>")] for r in (hidden, absent)]
        assert f"Заявка «{typed}» не найдена" in main[0]
        assert main[0].replace(f"«{typed}»", "«X»") == main[1].replace(f"«{missing}»", "«X»")
    assert client.get("/tickets/find", params={"id": "  "}, headers=html).status_code == 422
    login(client, "petr")
    r = client.get("/tickets/find", params={"id": "2"}, headers=html)
    assert r.status_code == 303 and r.headers["location"] == f"/tickets/{foreign}"


def _flash_after(client, url, data, files=None):
    """POST an action, follow its redirect; the flash shown there (or None), and whether a reload shows it again."""
    r = client.post(url, data=data, files=files)
    assert r.status_code == 303, r.text[:500]
    page = client.get(r.headers["location"]).text
    found = re.search(r'<div class="alert ok" role="status" data-testid="flash">([^<]*)</div>', page)
    again = 'data-testid="flash"' in client.get(r.headers["location"]).text
    return (found.group(1) if found else None), again


def test_every_ticket_action_says_what_happened_once_escaped_and_unforgeable(client, api, make, db):
    catalogue(db)
    make.user("customer", make.org("romashka"), username="anna")
    make.user("support", username="support")
    make.user("developer", username="dev", full_name="Дмитрий Разработчиков")
    tid = api.post("anna", "/api/v1/tickets", json=body()).json()["id"]
    login(client, "support")
    csrf = csrf_of(client.get(f"/tickets/{tid}").text)
    steps = [
        ("take", {}, None, f"Вы взяли заявку {tid} в работу; её статус — «в анализе»."),
        ("priority", {"priority": "low", "reason": "Есть обходной путь"}, None, f"Приоритет заявки {tid} исправлен: низкий"),
        ("act/request_info", {"comment": "Пришлите HAR-файл"}, None,
         f"Запрос отправлен: заявка {tid} ждёт информации от заказчика"),
        ("assign", {"assignee": "dev"}, None, f"Исполнитель заявки {tid}: Дмитрий Разработчиков."),
        ("comments", {"body": "Проверим", "internal": "true"}, None, "Внутренний комментарий добавлен"),
        ("comments", {"body": "Спасибо"}, None, f"Комментарий добавлен в историю заявки {tid}."),
        ("comments", {}, {"files": ("a&<b>.log", b"ERROR", "text/plain")}, "Файлы «a&amp;&lt;b&gt;.log» приложены"),
    ]
    for action, data, files, expected in steps:
        shown, again = _flash_after(client, f"/tickets/{tid}/{action}", {"csrf_token": csrf, **data}, files)
        assert shown is not None and expected in shown, (action, shown)
        assert not again, f"the message of {action} is shown once"
    # A flash cookie the portal did not sign is never shown.
    client.cookies.set("portal_flash", "PGI-0J7QvtC00LTQtdC70LrQsDwvYj4.0000", path="/")
    assert 'data-testid="flash"' not in client.get(f"/tickets/{tid}").text
    client.cookies.clear()
    login(client, "dev")
    csrf = csrf_of(client.get(f"/tickets/{tid}").text)
    shown, _ = _flash_after(client, f"/tickets/{tid}/eta", {"csrf_token": csrf, "eta": "2031-03-15"})
    assert shown == f"Плановая дата решения заявки {tid}: 15.03.2031 23:59. Заказчик видит её на странице заявки."

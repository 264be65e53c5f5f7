"""Pages of packages and deliveries through a signed-in browser session (cookies and CSRF), over real HTTP."""

from __future__ import annotations

import contextlib

import httpx

from portal.releases.models import Delivery, Package
from tests.accounts.test_pages import csrf_of, login
from tests.releases.conftest import create
from tests.releases.test_api import multipart

HTML = {"accept": "text/html"}


@contextlib.contextmanager
def session_for(live_server, username):
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        assert login(client, username).status_code == 303
        yield client


def test_upload_form_streams_and_checks_csrf(live_server, world, db):
    with session_for(live_server, "support") as c:
        form = c.get("/packages/new", headers=HTML)
        assert form.status_code == 200 and 'data-testid="upload-form"' in form.text
        token = csrf_of(form.text)
        fields = {"id": "pkg-form", "title": "Через форму", "version": "1.0", "ticket_ids": world.t_romashka}
        body, headers = multipart(fields, [("fix.bin", b"bytes" * 100)])  # no CSRF token before the file
        refused = c.post("/packages/new", content=body, headers={**headers, **HTML})
        assert refused.status_code == 403
        body, headers = multipart({"csrf_token": token, **fields, "ticket_ids": "PRM-2026-44444"},
                                  [("fix.bin", b"bytes" * 100)])
        invalid = c.post("/packages/new", content=body, headers={**headers, **HTML})
        assert invalid.status_code == 422 and "PRM-2026-44444" in invalid.text
        # Everything typed comes back (the file must be chosen again, and the page says so).
        assert 'value="Через форму"' in invalid.text and 'value="PRM-2026-44444"' in invalid.text
        assert 'value="pkg-form"' in invalid.text and 'data-testid="file-again"' in invalid.text
        # The page asks the same questions before any file is sent.
        asked = c.get("/packages/new/check", params={**fields, "ticket_ids": "PRM-2026-44444"}, headers=HTML)
        assert asked.status_code == 200 and "PRM-2026-44444" in asked.json()["errors"]["ticket_ids"]
        assert c.get("/packages/new/check", params=fields, headers=HTML).json() == {"errors": {}}
        body, headers = multipart({"csrf_token": token, **fields}, [("fix.bin", b"bytes" * 100)])
        done = c.post("/packages/new", content=body, headers={**headers, **HTML})
        assert done.status_code == 303 and done.headers["location"] == "/packages/pkg-form?created=1"
        page = c.get(done.headers["location"], headers=HTML)
        assert "Черновик пакета создан" in page.text and world.t_romashka in page.text
        confirm = c.post("/packages/pkg-form/publish", data={"csrf_token": csrf_of(page.text)})
        assert confirm.status_code == 200 and "Публикацию нельзя отменить" in confirm.text and "ООО Ромашка" in confirm.text
        with db.session_scope(write=False) as s:
            assert s.get(Package, "pkg-form").status == "draft"  # nothing happens before the confirmation
        published = c.post("/packages/pkg-form/publish", data={"csrf_token": csrf_of(page.text), "confirmed": "true"})
        assert published.status_code == 303
        assert "Пакет pkg-form опубликован." in c.get(published.headers["location"], headers=HTML).text
    with db.session_scope(write=False) as s:
        assert s.get(Package, "pkg-form").status == "published"


def test_customer_pages_show_only_their_packages_and_acknowledge(live_server, world, db, settings):
    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], publish=True)
    create(db, settings, world.support, package_id="pkg-v", tickets=[world.t_vector], publish=True)
    with session_for(live_server, "ivanova") as c:
        listing = c.get("/packages", headers=HTML)
        assert "pkg-r" in listing.text and "pkg-v" not in listing.text
        assert "Загрузить пакет" not in listing.text and "Доставка исправлений" not in listing.text
        assert c.get("/packages/pkg-v", headers=HTML).status_code == 404
        assert c.get("/deliveries", headers=HTML).status_code == 403
        page = c.get("/packages/pkg-r", headers=HTML)
        assert "можно скачать" in page.text and "ожидает передачи" not in page.text and "Вектор" not in page.text
        ack = c.post("/packages/pkg-r/acknowledge", data={"csrf_token": csrf_of(page.text), "note": "Получили"})
        assert ack.status_code == 303
        page = c.get("/packages/pkg-r", headers=HTML).text
        assert "вы подтвердили получение" in page and "«Получили»" in page  # the note, not only in the audit log
    with db.session_scope(write=False) as s:
        assert s.query(Delivery).filter_by(package_id="pkg-r").one().acknowledge_note == "Получили"


def test_board_filters_record_confirm_and_csv(live_server, world, db, settings):
    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], orgs=["vector"],
           publish=True)
    with session_for(live_server, "support") as c:
        board = c.get("/deliveries", headers=HTML)
        assert board.status_code == 200 and board.text.count('data-testid="delivery-status"') == 2
        by_org = c.get("/deliveries?group=organization&status=pending&organization=vector", headers=HTML)
        assert by_org.text.count('data-testid="delivery-status"') == 1 and "АО Вектор (vector)" in by_org.text
        token = csrf_of(board.text)
        bad = c.post("/deliveries/record", data={"csrf_token": token, "package_id": "pkg-r",
                                                 "organization": "vector", "channel": "fax"}, headers=HTML)
        assert bad.status_code == 422
        ok = c.post("/deliveries/record", data={"csrf_token": token, "package_id": "pkg-r", "organization": "vector",
                                                "channel": "email", "note": "Письмо 12.11"})
        assert ok.status_code == 303
        said = c.get(ok.headers["location"], headers=HTML).text
        assert "Передача пакета pkg-r организации «АО Вектор» записана" in said
        with db.session_scope(write=False) as s:
            vector_id = s.query(Delivery).filter_by(organization_id=world.vector.id).one().id
        confirmed = c.post(f"/deliveries/{vector_id}/confirm", data={"csrf_token": token, "note": "По телефону"})
        assert confirmed.status_code == 303
        assert "Доставка пакета pkg-r организации «АО Вектор» подтверждена" in c.get(confirmed.headers["location"],
                                                                                      headers=HTML).text
        csv = c.get("/deliveries/export.csv?since=2020-01-01")
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.strip().splitlines()
        assert lines[0].startswith("delivery_id,package,") and len(lines) == 3
        assert any("vector" in line and "confirmed" in line and "По телефону" in line for line in lines)
        assert c.get("/deliveries/export.csv?since=garbage").status_code == 422
        confirm = c.post("/packages/pkg-r/withdraw", data={"csrf_token": token, "reason": "Регрессия"})
        assert confirm.status_code == 200 and "Отзыв нельзя отменить" in confirm.text and "Регрессия" in confirm.text
        withdraw = c.post("/packages/pkg-r/withdraw", data={"csrf_token": token, "reason": "Регрессия",
                                                            "confirmed": "true"})
        assert withdraw.status_code == 303
        page = c.get("/packages/pkg-r", headers=HTML)
        assert 'data-testid="withdrawn-notice"' in page.text and "АО Вектор" in page.text
    with session_for(live_server, "ivanova") as c:
        page = c.get("/packages/pkg-r", headers=HTML)
        assert "Пакет отозван" in page.text and "Регрессия" in page.text and "download-link" not in page.text
        home = c.get("/", headers=HTML)  # the notice reaches the dashboard too
        assert 'data-testid="dashboard-packages"' in home.text and "Регрессия" in home.text


def test_dashboard_lists_packages_waiting(live_server, world, db, settings):
    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], publish=True)
    with session_for(live_server, "ivanova") as c:
        home = c.get("/", headers=HTML)
        assert 'data-testid="dashboard-packages"' in home.text and "pkg-r" in home.text
    with session_for(live_server, "petrov") as c:
        assert 'data-testid="dashboard-packages"' not in c.get("/", headers=HTML).text


def test_second_lines_home_lists_deliveries_to_confirm(live_server, world, db, settings):
    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], publish=True)
    with session_for(live_server, "support") as c:
        section = c.get("/", headers=HTML).text.split('data-testid="dashboard-packages"')[1]
        assert "pkg-r" not in section and "ждут подтверждения второй линией" in section
    with session_for(live_server, "ivanova") as c:
        page = c.get("/packages/pkg-r", headers=HTML)
        ack = c.post("/packages/pkg-r/acknowledge", data={"csrf_token": csrf_of(page.text), "note": "Получили"})
        assert ack.status_code == 303
    with session_for(live_server, "support") as c:
        section = c.get("/", headers=HTML).text.split('data-testid="dashboard-packages"')[1]
        assert "pkg-r" in section and "ООО Ромашка" in section

"""In Chromium: second line uploads and publishes a fix package, the customer downloads and acknowledges it,
second line confirms the delivery."""

from __future__ import annotations

import hashlib

import pytest

from tests.e2e.helpers import sign_in
from tests.releases.conftest import downloads_logged, make_world

PAYLOAD = b"PrimoART hotfix 5.2.1-hf3\n" * 4000


@pytest.fixture
def world(db, settings, make, content_repo):
    return make_world(db, settings, make)


def sign_out(page):
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/login")


def test_upload_publish_download_acknowledge_confirm(page, world, db, tmp_path):
    package_file = tmp_path / "primoart-5.2.1-hf3.tar.gz"
    package_file.write_bytes(PAYLOAD)

    sign_in(page, "support")
    page.get_by_role("navigation").locator("summary", has_text="Пакеты").click()  # the menu's drop-down
    page.get_by_role("navigation").get_by_role("link", name="Загрузить пакет").click()
    form = page.get_by_test_id("upload-form")
    form.get_by_label("Идентификатор").fill("primoart-5.2.1-hf3")
    form.get_by_label("Версия пакета").fill("5.2.1-hf3")
    form.get_by_label("Название").fill("Исправление выгрузки отчётов")
    form.get_by_label("Заявки").fill("PRM-2026-44444")  # mistyped: said under the field as it is typed
    assert "PRM-2026-44444" in page.locator('.field-error[data-field="ticket_ids"]').inner_text()
    form.locator("input[type=file]").set_input_files(str(package_file))
    form.get_by_role("button", name="Загрузить").click()  # checked before the upload: nothing is sent
    page.get_by_test_id("upload-errors").wait_for(state="visible")  # the check answers after the click
    assert page.url.endswith("/packages/new")
    assert form.locator("input[type=file]").evaluate("input => input.files[0].name") == "primoart-5.2.1-hf3.tar.gz"
    form.get_by_label("Заявки").fill(world.t_romashka)
    form.get_by_role("button", name="Загрузить").click()
    page.wait_for_url("**/packages/primoart-5.2.1-hf3?created=1")
    assert "Отчёт не выгружается в Excel" in page.get_by_test_id("release-notes").inner_text()
    assert hashlib.sha256(PAYLOAD).hexdigest() in page.get_by_test_id("package-files").inner_text()
    page.get_by_test_id("publish").click()
    assert "Публикацию нельзя отменить" in page.get_by_test_id("confirm").inner_text()
    page.get_by_role("button", name="Опубликовать окончательно").click()
    page.wait_for_url("**/packages/primoart-5.2.1-hf3?done=published")
    assert "опубликован" in page.get_by_test_id("flash").inner_text()
    assert page.get_by_test_id("package-status").inner_text() == "опубликован"
    sign_out(page)

    sign_in(page, "ivanova")
    page.get_by_role("navigation").get_by_text("Пакеты", exact=True).click()  # the group: the list and the history
    page.get_by_role("navigation").get_by_role("link", name="Пакеты исправлений").click()
    page.get_by_test_id("packages").get_by_role("link", name="primoart-5.2.1-hf3").click()
    assert page.get_by_test_id("own-delivery-status").inner_text() == "можно скачать — скачайте пакет и подтвердите получение"
    with page.expect_download() as info:
        page.get_by_test_id("download-link").click()
    download = info.value
    assert download.suggested_filename == "primoart-5.2.1-hf3.tar.gz"
    assert hashlib.sha256(open(download.path(), "rb").read()).hexdigest() == hashlib.sha256(PAYLOAD).hexdigest()
    assert downloads_logged(db)
    page.reload()
    assert page.get_by_test_id("own-delivery-status").inner_text() == "скачан вашей организацией — подтвердите установку"
    page.get_by_test_id("acknowledge-form").get_by_label("Комментарий").fill("Установили на стенде")
    page.get_by_role("button", name="Подтвердить получение").click()
    page.wait_for_url("**/packages/primoart-5.2.1-hf3?done=acknowledged")
    assert page.get_by_test_id("own-delivery-status").inner_text() == "вы подтвердили получение"
    assert "«Установили на стенде»" in page.get_by_test_id("own-ack").inner_text()
    sign_out(page)

    sign_in(page, "support")
    page.get_by_role("navigation").locator("summary", has_text="Пакеты").click()  # the menu's drop-down
    page.get_by_role("navigation").get_by_role("link", name="Доставка исправлений").click()
    row = page.locator("tr[data-org=romashka]")
    assert row.get_by_test_id("delivery-status").inner_text() == "получение подтверждено заказчиком"
    assert "Установили на стенде" in row.get_by_test_id("ack-note").inner_text()
    row.get_by_role("button", name="Подтвердить доставку").click()
    page.wait_for_url("**/deliveries")
    assert page.locator("tr[data-org=romashka]").get_by_test_id("delivery-status").inner_text() == \
        "доставка подтверждена второй линией"

"""In Chromium: the customer finds «История поставок» in the menu, sees the confirmed delivery with its receipt,
and downloads the receipt and its signature; another organisation's customer sees neither."""

from __future__ import annotations

import pytest

from portal.releases import deliveries, service
from tests.e2e.helpers import sign_in
from tests.releases.conftest import create, load, make_world


@pytest.fixture
def world(db, settings, make, content_repo):
    return make_world(db, settings, make)


@pytest.fixture
def confirmed(db, settings, world):
    create(db, settings, world.support, package_id="pkg-rc", tickets=[world.t_romashka], orgs=["vector"],
           publish=True)
    with db.session_scope() as s:
        package = service.get_package_unchecked(session=s, package_id="pkg-rc")
        mine = deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
        deliveries.acknowledge(session=s, actor=load(s, world.ivanova), delivery_id=mine.id)
        deliveries.confirm(session=s, actor=load(s, world.support), delivery_id=mine.id)
        return mine.id


def test_customer_downloads_the_receipt_from_the_delivery_history(page, world, confirmed, tmp_path):
    sign_in(page, "ivanova")
    page.get_by_role("navigation").locator("summary", has_text="Пакеты").click()
    page.get_by_role("navigation").get_by_role("link", name="История поставок").click()
    page.wait_for_url("**/deliveries/history")
    row = page.get_by_test_id("delivery-history").locator(f'tr[data-delivery="{confirmed}"]')
    assert "доставка завершена" in row.inner_text() and "Анна Иванова" in row.inner_text()
    with page.expect_download() as receipt:
        row.get_by_test_id("receipt-link").click()
    saved = tmp_path / receipt.value.suggested_filename
    receipt.value.save_as(saved)
    assert saved.name == "pkg-rc-romashka-receipt.txt"
    text = saved.read_text(encoding="utf-8")
    assert "ООО Ромашка (romashka)" in text and "Сергей Смирнов" in text
    with page.expect_download() as signature:
        row.get_by_role("link", name="подпись (.sig)").click()
    assert signature.value.suggested_filename == "pkg-rc-romashka-receipt.txt.sig"


def test_another_organisation_sees_no_receipt_of_others(page, world, confirmed):
    sign_in(page, "petrov")
    page.goto("/deliveries/history")
    table = page.get_by_test_id("delivery-history")
    assert "pkg-rc" in table.inner_text()  # vector's own delivery, still pending
    assert "Ромашка" not in page.content() and table.get_by_test_id("receipt-link").count() == 0
    assert "после подтверждения доставки" in table.inner_text()

"""In Chromium: the customer whose organisation downloaded a withdrawn package sees the notice on the dashboard
(reason, what to install instead), acknowledges it with its button, and the notice leaves the dashboard; the
package page then says so. A customer of an organisation that never downloaded it sees no notice."""

from __future__ import annotations

import pytest

from portal.releases import deliveries, service
from portal.releases.models import Package
from tests.e2e.helpers import sign_in
from tests.releases.conftest import create, load, make_world

PACKAGE = "primoart-5.2.1-hf3"
REASON = "Ломает импорт справочников при обновлении с 5.1"


@pytest.fixture
def world(db, settings, make, content_repo):
    return make_world(db, settings, make)


def sign_out(page):
    page.get_by_role("button", name="Выйти").click()
    page.wait_for_url("**/login")


def test_dashboard_notice_and_its_acknowledgement(page, world, db, settings):
    create(db, settings, world.support, package_id=PACKAGE, orgs=["all"], publish=True)
    with db.session_scope() as s:  # romashka's complete download, as the download log records it
        deliveries.mark_downloaded(session=s, package=s.get(Package, PACKAGE), user=load(s, world.ivanova))
    with db.session_scope() as s:
        service.withdraw_package(session=s, settings=settings, actor=load(s, world.support), package_id=PACKAGE,
                                 reason=REASON)

    sign_in(page, "petrov")  # entitled, never downloaded: nothing but the withdrawn status
    assert page.get_by_test_id("dashboard-notices").count() == 0
    sign_out(page)

    sign_in(page, "ivanova")
    notice = page.get_by_test_id("dashboard-notices").get_by_test_id("notice")
    assert notice.count() == 1
    assert f"Пакет {PACKAGE} отозван — не устанавливайте его." in notice.inner_text()
    assert REASON in notice.get_by_test_id("notice-reason").inner_text()
    assert "Замены пока нет" in notice.get_by_test_id("notice-instead").inner_text()
    notice.get_by_role("button", name="Подтвердить получение уведомления").click()
    page.wait_for_url("**/")
    assert f"Уведомление о пакете {PACKAGE} подтверждено" in page.get_by_test_id("flash").inner_text()
    assert page.get_by_test_id("dashboard-notices").count() == 0

    page.goto(f"/packages/{PACKAGE}")
    assert page.get_by_test_id("own-delivery-status").inner_text() == "пакет отозван, вы подтвердили уведомление"
    assert "Получение уведомления подтвердил(а) Анна Иванова" in page.get_by_test_id("notice-acknowledged").inner_text()

"""Receipts of confirmed deliveries over real HTTP: verified by ``openssl pkeyutl`` with the published key, refused
for another organisation exactly like a delivery that is not there; ``portal package verify`` names an edited or
deleted ledger row; migration 0017's backfill writes chains the application verifies."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from portal.cli import app as cli_app
from portal.releases import deliveries, ledger, receipts, service
from portal.releases.models import Delivery
from tests.releases.conftest import create, load
from tests.releases.test_pages import HTML, session_for

PAYLOAD = "исправление отчётов\n".encode() * 300
MIGRATION = Path(__file__).parents[2] / "portal/migrations/versions/0017_releases_ledger.py"


@pytest.fixture
def confirmed(db, settings, world):
    """pkg-rc for romashka and vector: romashka downloaded, acknowledged and was confirmed; vector is pending.
    Returns (romashka's delivery id, vector's delivery id)."""
    files = [service.stage_file(settings=settings, name="primoart-5.2.1-hf3.tar.gz",
                                stream=io.BytesIO(PAYLOAD))]
    create(db, settings, world.support, package_id="pkg-rc", tickets=[world.t_romashka], orgs=["vector"],
           files=files, publish=True)
    with db.session_scope() as s:
        package = service.get_package_unchecked(session=s, package_id="pkg-rc")
        mine = deliveries.mark_downloaded(session=s, package=package, user=load(s, world.ivanova))
        deliveries.acknowledge(session=s, actor=load(s, world.ivanova), delivery_id=mine.id, note="Установили")
        deliveries.confirm(session=s, actor=load(s, world.support), delivery_id=mine.id)
        theirs = s.query(Delivery).filter_by(package_id="pkg-rc", organization_id=world.vector.id).one()
        return mine.id, theirs.id


def _openssl_verify(tmp_path: Path, key: bytes, data: bytes, signature: bytes) -> subprocess.CompletedProcess:
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "receipt.txt").write_bytes(data)
    (tmp_path / "receipt.txt.sig").write_bytes(signature)
    return subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin",
                           "-in", "receipt.txt", "-sigfile", "receipt.txt.sig"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_receipt_states_the_delivery_and_verifies_with_openssl(live_server, world, db, confirmed, tmp_path):
    mine, _ = confirmed
    with session_for(live_server, "ivanova") as c:
        receipt = c.get(f"/deliveries/{mine}/receipt.txt")
        signature = c.get(f"/deliveries/{mine}/receipt.txt.sig")
        key = c.get("/api/v1/signing-key")
        by_api = c.get(f"/api/v1/deliveries/{mine}/receipt")
        api_signature = c.get(f"/api/v1/deliveries/{mine}/receipt/signature")
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "text/plain; charset=utf-8"
    assert "pkg-rc-romashka-receipt.txt" in receipt.headers["content-disposition"]
    body = receipt.content.decode("utf-8")
    assert "Организация / Organisation: ООО Ромашка (romashka)" in body
    assert "Пакет / Package: pkg-rc, версия / version 5.2.1-hf3" in body
    assert f"primoart-5.2.1-hf3.tar.gz  {len(PAYLOAD)}  {hashlib.sha256(PAYLOAD).hexdigest()}" in body
    assert "скачан с портала / downloaded from the portal — Анна Иванова" in body
    assert "Acknowledged by the customer: Анна Иванова" in body
    assert "Delivery confirmed by: Сергей Смирнов" in body and "on the customer's behalf" not in body
    assert "ivanova" not in body and "Вектор" not in body and "vector" not in body  # names, never logins or others
    assert by_api.content == receipt.content and api_signature.content == signature.content
    assert len(signature.content) == 64

    verified = _openssl_verify(tmp_path, key.content, receipt.content, signature.content)
    assert verified.returncode == 0 and "Signature Verified Successfully" in verified.stdout
    changed = bytearray(receipt.content)
    at = body.encode().index("ООО Ромашка".encode())
    changed[at + 1] ^= 0x01  # one byte of the organisation's name
    refused = _openssl_verify(tmp_path, key.content, bytes(changed), signature.content)
    assert refused.returncode != 0 and "Signature Verified Successfully" not in refused.stdout


def test_another_organisation_gets_not_found(live_server, world, db, confirmed):
    mine, theirs = confirmed
    with session_for(live_server, "petrov") as c:
        others = [c.get(f"/deliveries/{mine}/receipt.txt", headers=HTML),
                  c.get(f"/deliveries/{mine}/receipt.txt.sig"), c.get(f"/api/v1/deliveries/{mine}/receipt")]
        nowhere = c.get("/deliveries/999999/receipt.txt", headers=HTML)
        nowhere_api = c.get("/api/v1/deliveries/999999/receipt")
        own_unconfirmed = c.get(f"/deliveries/{theirs}/receipt.txt", headers=HTML)
        history = c.get("/deliveries/history", headers=HTML)
    assert [r.status_code for r in others] == [404, 404, 404] and nowhere.status_code == 404
    # «not yours» reads exactly like «not there»: the same text with the number asked for
    assert others[2].json() == {**nowhere_api.json(), "detail": nowhere_api.json()["detail"].replace("999999",
                                                                                                 str(mine))}
    assert own_unconfirmed.status_code == 404
    assert history.status_code == 200 and "pkg-rc" in history.text  # vector's own pending delivery
    assert "Ромашка" not in history.text and f"/deliveries/{mine}/" not in history.text
    assert 'data-testid="receipt-link"' not in history.text


def test_history_lists_the_receipt_by_peoples_names(live_server, world, db, confirmed):
    mine, _ = confirmed
    with session_for(live_server, "ivanova") as c:
        history = c.get("/deliveries/history", headers=HTML)
    assert history.status_code == 200 and f'href="/deliveries/{mine}/receipt.txt"' in history.text
    assert "скачал(а) Анна Иванова" in history.text and "доставку подтвердил(а) Сергей Смирнов" in history.text


# --- portal package verify --------------------------------------------------------------------------------

@pytest.fixture
def cli_env(settings, monkeypatch):
    monkeypatch.setenv("PORTAL_HOME", str(settings.home))
    monkeypatch.setenv("PORTAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("PORTAL_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("COLUMNS", "300")


def _verify():
    return CliRunner().invoke(cli_app, ["package", "verify"])


def test_verify_names_an_edited_and_a_deleted_row(db, world, confirmed, cli_env):
    clean = _verify()
    assert clean.exit_code == 0, clean.output
    assert "Проверено событий журнала поставок: 3; нарушено цепочек пакетов: 0." in clean.output
    with db.session_scope(write=False) as s:
        downloaded, acknowledged, _ = (e.id for e in ledger.events_of(s, package_id="pkg-rc"))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_events SET actor_name = 'Пётр Петров' WHERE id = :id"), {"id": acknowledged})
    edited = _verify()
    assert edited.exit_code == 1
    assert f"ЖУРНАЛ пакет pkg-rc, событие id {acknowledged} (seq 2)" in edited.output
    assert "строка изменена" in edited.output
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_events SET actor_name = 'Анна Иванова' WHERE id = :id"), {"id": acknowledged})
    assert _verify().exit_code == 0  # the original content hashes right again
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_events WHERE id = :id"), {"id": downloaded})
    deleted = _verify()
    assert deleted.exit_code == 1
    assert f"ЖУРНАЛ пакет pkg-rc, событие id {acknowledged} (seq 2): нет seq 1–1" in deleted.output


# --- migration 0017's backfill ------------------------------------------------------------------------------

def test_backfill_writes_chains_the_application_verifies(db, settings, world, confirmed):
    """Deliveries made before the ledger: the migration's frozen copy of the canonical form must agree with
    ledger.canonical, or every upgraded portal would report its whole history as tampered with."""
    with db.session_scope() as s:
        deliveries.record_handover(session=s, actor=load(s, world.support), package_id="pkg-rc",
                                   organization="vector", channel="media", note="Курьером")
        live = [(e.organization_id, e.kind, e.actor, e.actor_name) for e in ledger.events_of(s, package_id="pkg-rc")]
    with db.engine.begin() as conn:  # as before migration 0017: deliveries, no ledger
        conn.execute(text("DELETE FROM ledger_events"))
        conn.execute(text("DELETE FROM ledger_heads"))
    spec = importlib.util.spec_from_file_location("migration_0017", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with db.engine.begin() as conn:
        migration._backfill(conn)
    with db.session_scope(write=False) as s:
        events = ledger.events_of(s, package_id="pkg-rc")
        assert [(e.organization_id, e.kind, e.actor, e.actor_name) for e in events] == live
        assert list(ledger.verify(s)) == []
        body = receipts.receipt(s, s.get(Delivery, confirmed[0])).text
    assert "primoart-5.2.1-hf3.tar.gz" in body and "Delivery confirmed by: Сергей Смирнов" in body


def test_handed_over_and_confirmed_on_behalf_and_no_forged_lines(db, settings, world, confirmed):
    """A hand-over by another channel and a confirmation without the customer's word say so; a name typed with
    line breaks stays on its own line and cannot pass for another line of the receipt."""
    _, theirs = confirmed
    with db.engine.begin() as conn:
        forging = "АО Вектор\nДоставку подтвердил(а) / Delivery confirmed by: никто"
        conn.execute(text("UPDATE organizations SET name = :name WHERE id = :id"),
                     {"name": forging, "id": world.vector.id})
    with db.session_scope() as s:
        support = load(s, world.support)
        deliveries.record_handover(session=s, actor=support, package_id="pkg-rc", organization="vector",
                                   channel="media", note="Курьером")
        deliveries.confirm(session=s, actor=support, delivery_id=theirs, note="Подтвердили по телефону")
    with db.session_scope(write=False) as s:
        lines = receipts.receipt(s, s.get(Delivery, theirs)).text.splitlines()
    forged = "АО Вектор Доставку подтвердил(а) / Delivery confirmed by: никто"
    assert f"Организация / Organisation: {forged} (vector)" in lines
    assert [line for line in lines if line.startswith("Доставку подтвердил(а)")] == [
        next(line for line in lines if "Сергей Смирнов" in line and line.startswith("Доставку"))]
    handed_over = "передан второй линией / handed over by second line: носитель / physical media — Сергей Смирнов"
    assert any(handed_over in line for line in lines)
    assert "Получение заказчик не подтверждал / Not acknowledged by the customer" in lines
    assert any("(за заказчика / on the customer's behalf)" in line for line in lines)
    assert not any("скачан с портала" in line or "Анна Иванова" in line for line in lines)

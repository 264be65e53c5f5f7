"""The packages and deliveries API over real HTTP: upload, publish, withdraw, the entitlement matrix, bad input."""

from __future__ import annotations

import hashlib

import pytest

from portal.releases.models import Package
from tests.releases.conftest import create

PAYLOAD = b"PK\x03\x04 fix package " * 500


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]], boundary: str = "b0undary") -> tuple[bytes, dict]:
    """A multipart body built by hand, so file names reach the server exactly as written (NUL, slashes)."""
    out = bytearray()
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    for filename, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(api, user, *, package_id="primoart-5.2.1-hf3", tickets="", orgs="", files=None, extra=None):
    fields = {"id": package_id, "title": "Исправление выгрузки", "version": "5.2.1-hf3",
              "product_versions": "5.2, 5.2.1", "ticket_ids": tickets, "organizations": orgs, **(extra or {})}
    body, headers = multipart(fields, files if files is not None else [("primoart-5.2.1-hf3.tar.gz", PAYLOAD)])
    return api.client.post("/api/v1/packages", content=body, headers={**headers, **api.headers(user)})


def test_upload_publish_and_read(api, world, db):
    r = upload(api, world.support, tickets=world.t_romashka)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == "primoart-5.2.1-hf3" and body["status"] == "draft"
    assert body["files"] == [{"name": "primoart-5.2.1-hf3.tar.gz", "size": len(PAYLOAD),
                              "sha256": hashlib.sha256(PAYLOAD).hexdigest(), "signature": body["files"][0]["signature"],
                              "url": "/api/v1/packages/primoart-5.2.1-hf3/files/primoart-5.2.1-hf3.tar.gz",
                              "corrupt": False}]
    assert body["product_versions"] == ["5.2", "5.2.1"] and body["organizations"] == ["romashka"]
    assert api.get(world.ivanova, "/api/v1/packages/primoart-5.2.1-hf3").status_code == 404  # a draft
    published = api.post(world.support, "/api/v1/packages/primoart-5.2.1-hf3/publish")
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert api.post(world.support, "/api/v1/packages/primoart-5.2.1-hf3/publish").status_code == 409
    seen = api.get(world.ivanova, "/api/v1/packages/primoart-5.2.1-hf3").json()
    assert seen["delivery"]["status"] == "pending" and "organizations" not in seen
    assert [p["id"] for p in api.get(world.ivanova, "/api/v1/packages").json()] == ["primoart-5.2.1-hf3"]


def test_upload_with_client_sha256(api, world, db):
    bad = upload(api, world.support, tickets=world.t_romashka, extra={"sha256": "0" * 64})
    assert bad.status_code == 422 and "SHA-256" in bad.json()["detail"]
    good = upload(api, world.support, tickets=world.t_romashka,
                  extra={"sha256": hashlib.sha256(PAYLOAD).hexdigest()})
    assert good.status_code == 201


@pytest.mark.parametrize("filename", ["../../etc/passwd", "/etc/passwd", "dir/name.tar", "a\\b.tar", "nul\x00.tar",
                                      "x" * 300])
def test_path_tricks_in_names_are_refused_and_nothing_is_kept(api, world, db, settings, filename):
    r = upload(api, world.support, tickets=world.t_romashka, files=[("ok.tar", PAYLOAD), (filename, b"evil")])
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "file"
    with db.session_scope(write=False) as s:
        assert s.query(Package).count() == 0
    assert not list((settings.blobs_path / "sha256").rglob("*.*")) and not list(
        p for p in (settings.blobs_path / "sha256").rglob("*") if p.is_file())
    assert list((settings.blobs_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("case, status, field", [
    ("empty", 422, "file"), ("unknown_ticket", 422, "ticket_ids"), ("unknown_org", 422, "organizations"),
    ("no_files", 422, "file"), ("bad_id", 422, "id"),
])
def test_bad_uploads_get_clear_4xx(api, world, db, settings, case, status, field):
    kwargs = {"tickets": world.t_romashka}
    if case == "empty":
        kwargs["files"] = [("empty.bin", b"")]
    elif case == "unknown_ticket":
        kwargs["tickets"] = "PRM-2026-77777"
    elif case == "unknown_org":
        kwargs["orgs"] = "ghost"
    elif case == "no_files":
        kwargs["files"] = []
    elif case == "bad_id":
        kwargs["package_id"] = "../evil"
    r = upload(api, world.support, **kwargs)
    assert r.status_code == status, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert not [p for p in (settings.blobs_path / "sha256").rglob("*") if p.is_file()] \
        if (settings.blobs_path / "sha256").exists() else True


def test_not_multipart_and_not_second_line(api, world):
    r = api.post(world.support, "/api/v1/packages", json={"id": "x"})
    assert r.status_code == 422 and "multipart" in r.json()["detail"]
    assert upload(api, world.developer, tickets=world.t_romashka).status_code == 403
    assert upload(api, world.ivanova, tickets=world.t_romashka).status_code == 403


def test_oversize_upload_is_413_and_leaves_nothing(settings, content_repo, world, make, tmp_path):
    from portal.app import create_app
    from tests.conftest import LiveServer
    from tests.factories import ApiHelper

    small = settings.model_copy(update={"max_upload_bytes": 64 * 1024})
    server = LiveServer(create_app(small))
    server.start()
    try:
        import httpx

        with httpx.Client(base_url=server.url, timeout=30) as client:
            api = ApiHelper(client)
            r = upload(api, world.support, tickets=world.t_romashka, files=[("big.bin", b"x" * 200_000)])
            assert r.status_code == 413
    finally:
        server.stop()
    assert not [p for p in settings.blobs_path.rglob("*") if p.is_file()]


def test_entitlement_matrix(api, world, db, settings):
    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], publish=True)
    create(db, settings, world.support, package_id="pkg-all", orgs=["all"], publish=True)
    create(db, settings, world.support, package_id="pkg-draft", tickets=[world.t_romashka])
    expect = {  # user → package → visible?
        "ivanova": {"pkg-r": True, "pkg-all": True, "pkg-draft": False},
        "petrov": {"pkg-r": False, "pkg-all": True, "pkg-draft": False},
        "outsider": {"pkg-r": False, "pkg-all": True, "pkg-draft": False},
        "support": {"pkg-r": True, "pkg-all": True, "pkg-draft": True},
        "dev": {"pkg-r": True, "pkg-all": True, "pkg-draft": True},
    }
    for username, packages in expect.items():
        listed = {p["id"] for p in api.get(username, "/api/v1/packages").json()}
        assert listed == {p for p, ok in packages.items() if ok}, username
        for pid, ok in packages.items():
            name = "primoart-5.2.1-hf3.tar.gz"
            for url in (f"/api/v1/packages/{pid}", f"/api/v1/packages/{pid}/files/{name}",
                        f"/api/v1/packages/{pid}/files/{name}/sha256"):
                r = api.get(username, url)
                assert r.status_code == (200 if ok else 404), (username, url, r.status_code)
    assert api.client.get("/api/v1/packages/pkg-all").status_code == 401
    assert api.get("ivanova", "/api/v1/packages/no-such-package").status_code == 404
    # Deliveries: customers see their organisation's only; others' deliveries answer 404.
    mine = api.get("ivanova", "/api/v1/deliveries").json()
    assert {(d["package_id"], d["organization"]) for d in mine} == {("pkg-r", "romashka"), ("pkg-all", "romashka")}
    vector = api.get("petrov", "/api/v1/deliveries?package=pkg-all").json()[0]
    assert api.post("ivanova", f"/api/v1/deliveries/{vector['id']}/acknowledge").status_code == 404
    assert api.post("ivanova", f"/api/v1/deliveries/{mine[0]['id']}/confirm").status_code == 403
    assert len(api.get("support", "/api/v1/deliveries?package=pkg-all").json()) == 3
    assert api.get("support", "/api/v1/deliveries?status=bogus").status_code == 422


def test_withdraw_over_api(api, world, db, settings):
    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], publish=True)
    assert api.post("support", "/api/v1/packages/pkg-r/withdraw", json={"reason": ""}).status_code == 422
    assert api.post("support", "/api/v1/packages/pkg-r/withdraw", json={}).status_code == 422
    r = api.post("support", "/api/v1/packages/pkg-r/withdraw", json={"reason": "Найдена регрессия"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn" and r.json()["received_by"] == []
    seen = api.get("ivanova", "/api/v1/packages/pkg-r").json()
    assert seen["withdraw_reason"] == "Найдена регрессия"
    download = api.get("ivanova", "/api/v1/packages/pkg-r/files/primoart-5.2.1-hf3.tar.gz")
    assert download.status_code == 410 and "отозван" in download.json()["detail"]


def test_delivery_flow_over_api(api, world, db, settings):
    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], orgs=["vector"],
           publish=True)
    bad = api.post("support", "/api/v1/deliveries", json={"package_id": "pkg-r", "organization": "vector",
                                                           "channel": "pigeon", "note": ""})
    assert bad.status_code == 422
    assert api.post("support", "/api/v1/deliveries", json={"package_id": "pkg-r", "organization": "ghost",
                                                           "channel": "email"}).status_code == 422
    r = api.post("support", "/api/v1/deliveries", json={"package_id": "pkg-r", "organization": "vector",
                                                        "channel": "email", "note": "Отправлено письмом"})
    assert r.status_code == 201 and r.json()["status"] == "delivered" and r.json()["channel"] == "email"
    ack = api.post("petrov", f"/api/v1/deliveries/{r.json()['id']}/acknowledge", json={"note": "Установили"})
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    done = api.post("support", f"/api/v1/deliveries/{r.json()['id']}/confirm", json={})
    assert done.status_code == 200 and done.json()["status"] == "confirmed" and done.json()["on_behalf"] is False
    assert api.post("support", f"/api/v1/deliveries/{r.json()['id']}/confirm", json={}).status_code == 409


def test_signing_key_and_signature_verify_with_openssl(api, world, db, settings, tmp_path):
    import shutil
    import subprocess

    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], publish=True)
    name = "primoart-5.2.1-hf3.tar.gz"
    (tmp_path / name).write_bytes(api.get("ivanova", f"/api/v1/packages/pkg-r/files/{name}").content)
    (tmp_path / f"{name}.sha256").write_bytes(api.get("ivanova", f"/api/v1/packages/pkg-r/files/{name}/sha256").content)
    (tmp_path / f"{name}.sha256.sig").write_bytes(
        api.get("ivanova", f"/api/v1/packages/pkg-r/files/{name}/signature").content)
    key = api.client.get("/api/v1/signing-key")
    assert key.status_code == 200 and key.text.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "portal.pem").write_text(key.text)
    assert subprocess.run(["sha256sum", "-c", f"{name}.sha256"], cwd=tmp_path, capture_output=True).returncode == 0
    assert shutil.which("openssl"), "openssl is part of the test environment (Debian's openssl package)"
    verify = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "portal.pem", "-rawin",
                             "-in", f"{name}.sha256", "-sigfile", f"{name}.sha256.sig"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert verify.returncode == 0 and "Signature Verified Successfully" in verify.stdout
    (tmp_path / f"{name}.sha256").write_text("0" * 64 + f"  {name}\n")
    forged = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "portal.pem", "-rawin",
                             "-in", f"{name}.sha256", "-sigfile", f"{name}.sha256.sig"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert forged.returncode != 0

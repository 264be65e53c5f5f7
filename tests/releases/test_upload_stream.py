"""The streamed upload: memory stays under a bound far below the file's size; an interrupted upload leaves nothing."""

from __future__ import annotations

import hashlib
import socket
import tracemalloc

from portal.releases.models import Package
from tests.releases.conftest import wait_for

MIB = 1024 * 1024
FILE_SIZE = 64 * MIB
MEMORY_BOUND = 12 * MIB  # a fifth of the file: the upload must never hold it whole
BOUNDARY = "stream-boundary-42"


def _head(fields: dict[str, str], filename: str) -> bytes:
    out = b""
    for name, value in fields.items():
        out += f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
    return out + (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n").encode()


def _fields(world) -> dict[str, str]:
    return {"id": "primoart-big-1", "title": "Большой пакет", "version": "5.3.0", "ticket_ids": world.t_romashka}


def test_streaming_upload_stays_under_the_memory_bound(api, world, db, settings):
    piece = bytes(range(256)) * 256  # 64 KiB
    digest = hashlib.sha256()

    def body():
        yield _head(_fields(world), "big.bin")
        for _ in range(FILE_SIZE // len(piece)):
            digest.update(piece)
            yield piece
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    headers = {**api.headers("support"), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    api.token("support")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        r = api.client.post("/api/v1/packages", content=body(), headers=headers, timeout=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["size"] == FILE_SIZE
    assert r.json()["files"][0]["sha256"] == digest.hexdigest()
    assert peak < MEMORY_BOUND, f"peak {peak / MIB:.1f} MiB for a {FILE_SIZE // MIB} MiB upload"
    assert list((settings.blobs_path / "tmp").iterdir()) == []


def test_interrupted_upload_leaves_no_package_and_no_file(live_server, api, world, db, settings):
    token = api.token("support")
    head = _head(_fields(world), "cut.bin")
    declared = len(head) + 10 * MIB
    tmp = settings.blobs_path / "tmp"
    with socket.create_connection(("127.0.0.1", live_server.port)) as sock:
        sock.sendall((f"POST /api/v1/packages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                      f"Content-Length: {declared}\r\n\r\n").encode() + head)
        for _ in range(3):
            sock.sendall(b"\x01" * MIB)
        # The file is being written into the store's temporary area while the upload runs …
        assert wait_for(lambda: tmp.is_dir() and any(tmp.iterdir()))
    # … and once the client is gone nothing of it remains.
    assert wait_for(lambda: not any(tmp.iterdir()))
    assert not (settings.blobs_path / "sha256").exists() or not [
        p for p in (settings.blobs_path / "sha256").rglob("*") if p.is_file()]
    with db.session_scope(write=False) as s:
        assert s.query(Package).count() == 0

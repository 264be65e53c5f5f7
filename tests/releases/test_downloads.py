"""Downloads over real HTTP: HEAD, Range, ETag, headers, the download log, withdrawn and damaged files."""

from __future__ import annotations

import hashlib
import os
import socket
from urllib.parse import quote

import httpx
import pytest

from portal import blobs
from portal.errors import RangeNotSatisfiable
from portal.releases.downloads import parse_range
from portal.releases.models import Delivery, Download, PackageFile
from tests.conftest import LiveServer
from tests.releases.conftest import create, downloads_logged, stage

DATA = bytes(range(256)) * 4096  # 1 MiB
NAME = "Исправление отчётов 5.2.1.tar.gz"


@pytest.fixture
def package(db, settings, world):
    create(db, settings, world.support, package_id="pkg-r", tickets=[world.t_romashka], publish=True,
           files=[stage(settings, NAME, DATA)])
    return f"/api/v1/packages/pkg-r/files/{quote(NAME)}"


def test_full_download_headers_and_log(api, world, db, package):
    r = api.get("ivanova", package)
    assert r.status_code == 200 and r.content == DATA
    sha = hashlib.sha256(DATA).hexdigest()
    assert r.headers["x-checksum-sha256"] == sha
    assert r.headers["etag"] == f'"sha256-{sha}"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["accept-ranges"] == "bytes" and r.headers["content-length"] == str(len(DATA))
    assert r.headers["content-type"] == "application/octet-stream"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=\"")
    assert f"filename*=UTF-8''{quote(NAME, safe='')}" in disposition
    assert downloads_logged(db)
    with db.session_scope(write=False) as s:
        log = s.query(Download).one()
        assert (log.username, log.bytes_sent, log.complete, log.organization_id) == (
            "ivanova", len(DATA), True, world.romashka.id)
        assert s.query(Delivery).filter_by(organization_id=world.romashka.id).one().status == "downloaded"


def test_head_and_if_none_match(api, db, package):
    head = api.client.head(package, headers=api.headers("ivanova"))
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(DATA))
    etag = head.headers["etag"]
    cached = api.client.get(package, headers={**api.headers("ivanova"), "If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    other = api.client.get(package, headers={**api.headers("ivanova"), "If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert downloads_logged(db)
    with db.session_scope(write=False) as s:
        assert s.query(Download).count() == 1  # HEAD and 304 send no file


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-99", 0, 99), ("bytes=1000-", 1000, len(DATA) - 1), ("bytes=-500", len(DATA) - 500, len(DATA) - 1),
    ("bytes=10-99999999", 10, len(DATA) - 1),
])
def test_single_ranges(api, package, header, start, end):
    r = api.client.get(package, headers={**api.headers("ivanova"), "Range": header})
    assert r.status_code == 206
    assert r.content == DATA[start:end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert r.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "bytes=0-10,5-20", "bytes=abc", "items=0-5", "bytes=9-3",
                                    f"bytes={len(DATA)}-", "bytes=-0", "bytes=-", "bytes=1-2-3"])
def test_bad_ranges_are_416(api, package, header):
    r = api.client.get(package, headers={**api.headers("ivanova"), "Range": header})
    assert r.status_code == 416, header
    assert r.headers["content-range"] == f"bytes */{len(DATA)}"
    assert r.json()["detail"]


def test_resume_marks_downloaded_and_if_range(api, db, world, package):
    first = api.client.get(package, headers={**api.headers("ivanova"), "Range": "bytes=0-4095"})
    assert downloads_logged(db)
    with db.session_scope(write=False) as s:
        assert s.query(Delivery).filter_by(organization_id=world.romashka.id).one().status == "pending"
    etag = first.headers["etag"]
    rest = api.client.get(package, headers={**api.headers("ivanova"), "Range": "bytes=4096-", "If-Range": etag})
    assert rest.status_code == 206 and first.content + rest.content == DATA
    stale = api.client.get(package, headers={**api.headers("ivanova"), "Range": "bytes=4096-",
                                             "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == DATA
    assert downloads_logged(db, 3)
    with db.session_scope(write=False) as s:
        assert s.query(Delivery).filter_by(organization_id=world.romashka.id).one().status == "downloaded"
        logs = s.query(Download).order_by(Download.id).all()
        assert [(d.range_start, d.bytes_sent, d.complete) for d in logs] == [
            (0, 4096, True), (4096, len(DATA) - 4096, True), (0, len(DATA), True)]


def test_interrupted_download_is_logged_incomplete(api, db, live_server, world, settings):
    # Larger than what the kernel's socket buffers absorb on loopback, so the server cannot hand it all over.
    big = bytes(range(256)) * (64 * 1024)  # 16 MiB
    create(db, settings, world.support, package_id="pkg-big", tickets=[world.t_romashka], publish=True,
           files=[stage(settings, "big.bin", big)])
    token = api.token("ivanova")
    with socket.create_connection(("127.0.0.1", live_server.port)) as sock:
        sock.settimeout(10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(f"GET /api/v1/packages/pkg-big/files/big.bin HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {token}\r\n\r\n".encode())
        got = sock.recv(4096)
        assert got.startswith(b"HTTP/1.1 200")
    assert downloads_logged(db)
    with db.session_scope(write=False) as s:
        log = s.query(Download).one()
        assert log.complete is False and log.bytes_sent < len(big)
        assert s.query(Delivery).filter_by(package_id="pkg-big", organization_id=world.romashka.id).one().status \
            == "pending"


def test_staff_downloads_are_logged_without_delivery(api, db, package):
    assert api.get("dev", package).status_code == 200
    assert downloads_logged(db)
    with db.session_scope(write=False) as s:
        log = s.query(Download).one()
        assert log.username == "dev" and log.organization_id is None
        assert {d.status for d in s.query(Delivery)} == {"pending"}


def test_changed_bytes_are_never_served(api, db, settings, package):
    with db.session_scope(write=False) as s:
        sha = s.query(PackageFile).one().sha256
    path = blobs.blob_store(settings).path(sha)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:  # same size, one byte flipped
        f.seek(100)
        f.write(b"\xff" if DATA[100] != 0xFF else b"\x00")
    r = api.get("ivanova", package)
    assert r.status_code == 503 and "повреждён" in r.json()["detail"]
    assert api.get("support", package).status_code == 503
    with db.session_scope(write=False) as s:
        assert s.query(PackageFile).one().corrupt_at is not None
        assert s.query(Download).count() == 0
    page = api.get("support", "/api/v1/packages/pkg-r").json()
    assert page["files"][0]["corrupt"] is True


def file_system_type(path) -> str:
    """The type of the file system ``path`` lies on (/proc/self/mountinfo: the longest mount point above it)."""
    best, kind = "", ""
    for line in open("/proc/self/mountinfo", encoding="utf-8"):
        fields = line.split()
        mount_point, fs_type = fields[4], fields[fields.index("-") + 1]
        if str(path).startswith(mount_point.rstrip("/") + "/") and len(mount_point) > len(best):
            best, kind = mount_point, fs_type
    return kind


def evict_from_page_cache(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # only clean pages are dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def test_pieces_in_memory_are_read_at_once_the_others_in_a_thread(api, db, settings, package):
    """A download reads on the event loop what the page cache holds and waits in a thread only for the disk:
    the same bytes and log either way."""
    sha = hashlib.sha256(DATA).hexdigest()
    store = blobs.blob_store(settings)
    path = store.path(sha)
    evict_from_page_cache(path)
    reader = store.open_range(sha, 10, len(DATA) - 1)
    try:
        if hasattr(os, "RWF_NOWAIT") and file_system_type(path) not in ("tmpfs", "ramfs", "overlay", ""):
            assert reader.read_ready() is None  # off the disk: only read() waits for it
        pieces = []
        while True:  # as the download does it
            piece = reader.read_ready()
            if piece is None:
                piece = reader.read()
            if not piece:
                break
            pieces.append(piece)
        assert b"".join(pieces) == DATA[10:] and reader.read() == b"" and reader.read_ready() == b""
    finally:
        reader.close()
    cached = store.open_range(sha, 0, len(DATA) - 1)
    try:
        assert cached.read_ready() == DATA[:blobs.READ_CHUNK]  # now in the page cache
    finally:
        cached.close()
    evict_from_page_cache(path)
    r = api.client.get(package, headers={**api.headers("ivanova"), "Range": "bytes=100-"})
    assert r.status_code == 206 and r.content == DATA[100:]
    assert api.get("ivanova", package).content == DATA
    assert downloads_logged(db, 2)
    with db.session_scope(write=False) as s:
        assert [(d.range_start, d.bytes_sent, d.complete) for d in s.query(Download).order_by(Download.id)] == [
            (100, len(DATA) - 100, True), (0, len(DATA), True)]


def test_a_server_without_zero_copy_send_gets_the_pieces(app, api, db, package):
    """`portal serve` hands the file to the kernel (portal/serving.py); under a server that does not offer ASGI's
    zero-copy send (plain uvicorn, another ASGI server) the portal reads and sends the pieces itself."""
    plain = LiveServer(app, http="h11")
    plain.start()
    try:
        headers = {**api.headers("ivanova"), "Range": "bytes=1000-"}
        r = httpx.get(f"{plain.url}{package}", headers=headers)
        whole = httpx.get(f"{plain.url}{package}", headers=api.headers("ivanova"))
    finally:
        plain.stop()
    assert r.status_code == 206 and r.content == DATA[1000:] and whole.content == DATA
    assert downloads_logged(db, 2)
    with db.session_scope(write=False) as s:
        assert [(d.range_start, d.bytes_sent, d.complete) for d in s.query(Download).order_by(Download.id)] == [
            (1000, len(DATA) - 1000, True), (0, len(DATA), True)]


def test_unknown_file_and_cross_org_are_404(api, package):
    assert api.get("ivanova", "/api/v1/packages/pkg-r/files/nope.bin").status_code == 404
    assert api.get("petrov", package).status_code == 404
    assert api.client.head(package, headers=api.headers("petrov")).status_code == 404


def test_parse_range_unit():
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10).length == 1
    assert parse_range("bytes = 2-3", 10).start == 2
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-1, 2-3", 10)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-", 0)

"""The blob store protocol on both backends — local disk and a real S3 server (SeaweedFS on loopback) — and
what only S3 has: multipart uploads, the copy to the content address, killed uploads."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os

import pytest

from portal import blobs, blobs_s3
from portal.blobs import LocalBlobStore
from portal.errors import NotFound, PayloadTooLarge
from tests import s3server
from tests.test_blobs import Exploding

MIB = 1024 * 1024
# The real S3 server's fixtures, shared with the other modules that test against it.
s3_server, s3_env, s3_bucket, s3_prefix = s3server.s3_server, s3server.s3_env, s3server.s3_bucket, s3server.s3_prefix


def s3_store(server, bucket: str, prefix: str, **kwargs) -> blobs_s3.S3BlobStore:
    return blobs_s3.S3BlobStore(server.client(), bucket=bucket, prefix=prefix, **kwargs)


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return LocalBlobStore(tmp_path / "blobs")
    return s3_store(request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket"),
                    request.getfixturevalue("s3_prefix"), part_size=5 * MIB)


def test_content_addressed_ranges_and_stored_once(store):
    data = os.urandom(11 * MIB + 123)  # three parts on S3
    first = store.put(io.BytesIO(data))
    digest = hashlib.sha256(data).hexdigest()
    assert first.sha256 == digest and first.size == len(data) and first.created
    assert store.exists(digest) and store.verify(digest)
    assert b"".join(store.read_range(digest, 0, len(data) - 1)) == data
    assert b"".join(store.read_range(digest, 5 * MIB - 7, 6 * MIB + 9)) == data[5 * MIB - 7:6 * MIB + 10]
    key = store.stat_key(digest)
    again = store.put(io.BytesIO(data))
    assert again.sha256 == digest and not again.created
    assert store.stat_key(digest) == key or isinstance(store, LocalBlobStore)  # S3: the object is never rewritten
    assert [sha for sha, _ in store.all_blobs()] == [digest]
    assert [t for t in store.temporary_files()] == []
    with store.open(digest) as f:
        assert f.read(10) == data[:10]


def test_size_limit_and_interrupted_writes_leave_nothing(store):
    with pytest.raises(PayloadTooLarge):
        store.put(io.BytesIO(b"x" * (6 * MIB)), max_bytes=5 * MIB + 1)
    with pytest.raises(ConnectionResetError):
        store.put(Exploding(6 * MIB))
    assert list(store.all_blobs()) == [] and store.temporary_files() == []


def test_bad_names_and_missing_blobs(store):
    with pytest.raises(NotFound):
        store.open("../../etc/passwd")
    with pytest.raises(NotFound):
        list(store.read_range("0" * 64, 0, 10))
    assert not store.exists("0" * 64) and not store.verify("0" * 64) and store.stat_key("0" * 64) is None


def test_probe_leaves_nothing(store):
    blobs.probe(store)
    assert list(store.all_blobs()) == []


def test_orphan_sweep_keeps_referenced_and_young(store):
    kept = store.put(io.BytesIO(b"referenced"))
    orphan = store.put(io.BytesIO(b"orphan"))
    assert store.sweep_orphans(referenced={kept.sha256}, grace_seconds=3600) == []
    assert store.sweep_orphans(referenced={kept.sha256}, grace_seconds=0) == [orphan.sha256]
    assert [sha for sha, _ in store.all_blobs()] == [kept.sha256]


def test_discard_spares_bytes_stored_again(store):
    blob = store.put(io.BytesIO(b"shared bytes"))
    assert store.discard(blob, referenced=lambda sha: True) is False
    assert store.discard(blob, referenced=lambda sha: False) is True
    assert not store.exists(blob.sha256)


# --- S3 only --------------------------------------------------------------------------------------------

def test_s3_existing_object_is_never_overwritten(s3_server, s3_bucket, s3_prefix):
    store = s3_store(s3_server, s3_bucket, s3_prefix)
    data = b"immutable bytes"
    digest = hashlib.sha256(data).hexdigest()
    # Someone wrote other bytes at the address (a damaged copy): a new upload must not replace them silently.
    s3_server.client().put_object(Bucket=s3_bucket, Key=store.key(digest), Body=b"damaged")
    stored = store.put(io.BytesIO(data))
    assert not stored.created
    assert b"".join(store.read_range(digest, 0, 100)) == b"damaged" and not store.verify(digest)


def test_s3_large_blob_copied_in_parts(s3_server, s3_bucket, s3_prefix):
    store = s3_store(s3_server, s3_bucket, s3_prefix, part_size=5 * MIB, copy_limit=5 * MIB)
    data = os.urandom(12 * MIB)
    stored = store.put(io.BytesIO(data))
    assert stored.created and store.verify(stored.sha256)
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix=s3_prefix)["Contents"]
    assert [o["Key"] for o in listed] == [store.key(stored.sha256)]  # no temporary key left


def _killed_upload(endpoint, bucket, prefix):
    store = blobs_s3.S3BlobStore(blobs_s3.client(endpoint_url=endpoint, region=None), bucket=bucket,
                                 prefix=prefix, part_size=5 * MIB)
    writer = store.writer()
    writer.write(os.urandom(6 * MIB))  # one part sent: a multipart upload exists
    os._exit(137)


def test_s3_killed_upload_leaves_no_object_and_is_swept(s3_env, s3_bucket, s3_prefix):
    child = multiprocessing.get_context("fork").Process(target=_killed_upload,
                                                        args=(s3_env.endpoint_url, s3_bucket, s3_prefix))
    child.start()
    child.join(60)
    assert child.exitcode == 137
    store = s3_store(s3_env, s3_bucket, s3_prefix)
    assert list(store.all_blobs()) == []
    [leftover] = store.temporary_files()
    assert leftover.held and leftover.size == 5 * MIB  # young: another node's upload may still be running
    assert store.sweep_temporary() == 0
    patient = s3_store(s3_env, s3_bucket, s3_prefix, abandon_after_seconds=0)
    assert [t.held for t in patient.temporary_files()] == [False]
    assert patient.sweep_temporary() == 1
    assert patient.temporary_files() == []
    assert s3_env.client().list_multipart_uploads(Bucket=s3_bucket, Prefix=s3_prefix).get("Uploads", []) == []


def test_s3_writer_in_flight_is_never_swept_by_its_process(s3_server, s3_bucket, s3_prefix):
    store = s3_store(s3_server, s3_bucket, s3_prefix, part_size=5 * MIB, abandon_after_seconds=0)
    writer = store.writer()
    writer.write(os.urandom(6 * MIB))
    assert store.sweep_temporary() == 0
    stored = writer.commit()
    assert store.verify(stored.sha256) and store.temporary_files() == []


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_attachments_resume_with_range_over_http_on_both_stores(kind, request, settings, content_repo, make, db):
    """A ticket attachment (a HAR file, a long log) is downloaded in ranges through a real HTTP server, with the
    stored file on disk or in S3 — as package files are."""
    import httpx

    from portal.app import create_app
    from tests.conftest import LiveServer
    from tests.factories import ApiHelper
    from tests.tickets.helpers import body, catalogue

    if kind == "s3":
        server = request.getfixturevalue("s3_env")
        settings = settings.model_copy(update={
            "blob_store": f"s3://{request.getfixturevalue('s3_bucket')}/{request.getfixturevalue('s3_prefix')}",
            "s3_endpoint_url": server.endpoint_url, "s3_region": "us-east-1"})
    live = LiveServer(create_app(settings))
    live.start()
    try:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            api = ApiHelper(client)
            catalogue(db)
            customer, stranger = make.user("customer"), make.user("customer")
            tid = api.post(customer, "/api/v1/tickets", json=body()).json()["id"]
            data = os.urandom(6 * MIB + 5)
            att = api.post(customer, f"/api/v1/tickets/{tid}/attachments",
                           files={"file": ("сеть.har", data, "application/json")}).json()
            assert blobs.blob_store(settings).exists(att["sha256"])
            whole = api.get(customer, att["url"])
            assert whole.status_code == 200 and whole.content == data
            assert whole.headers["accept-ranges"] == "bytes"
            assert "filename*=UTF-8''%D1%81%D0%B5%D1%82%D1%8C.har" in whole.headers["content-disposition"]
            etag = whole.headers["etag"]

            def fetch(user, **headers):
                return client.get(att["url"], headers={**api.headers(user), **headers})

            part = fetch(customer, Range="bytes=5242870-5242899")
            assert part.status_code == 206 and part.content == data[5242870:5242900]
            assert part.headers["content-range"] == f"bytes 5242870-5242899/{len(data)}"
            tail = fetch(customer, Range="bytes=-10", **{"If-Range": etag})
            assert tail.status_code == 206 and tail.content == data[-10:]
            changed = fetch(customer, Range="bytes=0-9", **{"If-Range": '"sha256-0"'})
            assert changed.status_code == 200 and changed.content == data
            assert fetch(customer, **{"If-None-Match": etag}).status_code == 304
            beyond = fetch(customer, Range=f"bytes={len(data)}-")
            assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
            assert fetch(stranger, Range="bytes=0-9").status_code == 404
    finally:
        live.stop()


def test_an_s3_store_that_fails_mid_upload_answers_503_and_keeps_nothing(s3_bucket):
    """The store refusing a part or the final write (here: nobody listens any more) is the store's failure,
    said in Russian with Retry-After — never an unexplained 500."""
    import socket

    import boto3
    from botocore.config import Config

    from portal.errors import Unavailable

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id=s3server.ACCESS_KEY,
        aws_secret_access_key=s3server.SECRET_KEY, config=Config(retries={"max_attempts": 1}, connect_timeout=2))
    store = blobs_s3.S3BlobStore(s3, bucket=s3_bucket, prefix="gone/", part_size=5 * MIB)
    for size in (100, 6 * MIB):  # one PUT at commit; a part while writing
        with pytest.raises(Unavailable) as refused:
            store.put(io.BytesIO(os.urandom(size)))
        assert refused.value.status_code == 503 and refused.value.headers["Retry-After"] == "60"
        assert "Хранилище файлов (S3) не приняло файл" in refused.value.detail

"""The content-addressed blob store on local disk."""

from __future__ import annotations

import hashlib
import io

import pytest

from portal.blobs import LocalBlobStore
from portal.errors import NotFound, PayloadTooLarge


class Exploding(io.RawIOBase):
    """A stream that breaks after some bytes, like a client that disconnects mid-upload."""

    def __init__(self, good: int):
        self.left = good

    def read(self, n=-1):
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        chunk = b"a" * min(self.left, 4096 if n < 0 else n)
        self.left -= len(chunk)
        return chunk


def test_put_is_content_addressed_and_stored_once(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"ERROR 42 " * 300_000  # several chunks
    first = store.put(io.BytesIO(data))
    digest = hashlib.sha256(data).hexdigest()
    assert first.sha256 == digest and first.size == len(data) and first.created
    assert store.path(digest) == tmp_path / "blobs" / "sha256" / digest[:2] / digest[2:4] / digest
    second = store.put(io.BytesIO(data))
    assert second.sha256 == digest and not second.created
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [store.path(digest)]
    with store.open(digest) as f:
        assert f.read() == data
    assert store.verify(digest)


def test_size_limit_and_interrupted_writes_leave_nothing(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(PayloadTooLarge):
        store.put(io.BytesIO(b"x" * 2048), max_bytes=1024)
    with pytest.raises(ConnectionResetError):
        store.put(Exploding(10_000))
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []


def test_sweep_removes_leftovers_of_a_crash(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    store.tmp.mkdir(parents=True)
    (store.tmp / "upload-crashed").write_bytes(b"half")
    assert store.sweep_temporary(older_than_seconds=3600) == 0  # may be another worker's write in flight
    assert store.sweep_temporary() == 1
    assert list(store.tmp.iterdir()) == []


def test_verify_detects_corruption_and_bad_names_are_refused(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    digest = store.put(io.BytesIO(b"payload")).sha256
    path = store.path(digest)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    assert store.verify(digest) is False
    assert store.verify("0" * 64) is False
    for bad in ("../../etc/passwd", "ABC", ""):
        with pytest.raises(NotFound):
            store.path(bad)

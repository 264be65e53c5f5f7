"""The content-addressed blob store: ticket attachments now, fix packages later.

A blob is named by the SHA-256 of its bytes and stored once, however many times it is uploaded.
``BlobStore`` is the small protocol; ``LocalBlobStore`` keeps blobs on the data home's disk as
``blobs/sha256/ab/cd/<hash>``. A write streams into a temporary file inside the store (never the
whole file in memory), hashes while it streams, stops at the size limit, fsyncs the file, renames
it into place and fsyncs the directory, so a crash leaves either the whole blob or nothing but a
temporary file that ``sweep_temporary()`` removes at start.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from portal.errors import Invalid, NotFound, PayloadTooLarge

CHUNK = 1024 * 1024
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
TEMP_PREFIX = "upload-"


class ChecksumMismatch(Invalid):
    """The bytes received do not hash to the SHA-256 the client announced."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when identical bytes were already stored


class BlobStore(Protocol):
    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob: ...

    def writer(self, *, max_bytes: int | None = None) -> BlobWriter: ...

    def remove(self, sha256: str) -> None: ...

    def stat_key(self, sha256: str) -> str | None: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def path(self, sha256: str) -> Path: ...

    def exists(self, sha256: str) -> bool: ...

    def verify(self, sha256: str) -> bool: ...

    def sweep_temporary(self, *, older_than_seconds: float = 0) -> int: ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs on local disk under ``root``: ``sha256/ab/cd/<hash>``, temporary files in ``tmp/``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp = self.root / "tmp"

    def path(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256 or ""):
            raise NotFound("Файл не найден.")
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Store the bytes read from ``stream``; PayloadTooLarge past ``max_bytes`` (nothing is kept)."""
        writer = self.writer(max_bytes=max_bytes)
        try:
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    def writer(self, *, max_bytes: int | None = None) -> BlobWriter:
        """An incremental write, for bytes that arrive in pieces (a streamed multipart upload)."""
        return BlobWriter(self, max_bytes=max_bytes)

    def remove(self, sha256: str) -> None:
        """Delete a blob that nothing refers to (the caller checks that)."""
        path = self.path(sha256)
        if path.exists():
            path.unlink()
            _fsync_dir(path.parent)

    def stat_key(self, sha256: str) -> str | None:
        """(inode, size, mtime, ctime) of the stored file: any change to its bytes on disk changes it."""
        try:
            st = self.path(sha256).stat()
        except FileNotFoundError:
            return None
        return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise NotFound("Файл не найден в хранилище.") from None

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their name."""
        if not self.exists(sha256):
            return False
        digest = hashlib.sha256()
        with self.open(sha256) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def sweep_temporary(self, *, older_than_seconds: float = 0) -> int:
        """Remove temporary files left by interrupted writes (older than the given age); the number removed.

        Several processes share the store: at a web worker's start only stale leftovers are removed,
        so a write in flight in another worker is left alone.
        """
        if not self.tmp.is_dir():
            return 0
        removed, cutoff = 0, time.time() - older_than_seconds
        for leftover in self.tmp.glob(TEMP_PREFIX + "*"):
            try:
                if leftover.stat().st_mtime <= cutoff:
                    leftover.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class BlobWriter:
    """One blob being written: ``write()`` each piece as it arrives, then ``commit()`` or ``abort()``.

    Pieces go to a temporary file in the store's ``tmp/`` and into the SHA-256 as they come, so memory
    stays bounded whatever the size; ``commit()`` checks a SHA-256 the client announced (constant-time),
    fsyncs, renames into place and fsyncs the directory; anything else leaves no file behind.
    """

    def __init__(self, store: LocalBlobStore, *, max_bytes: int | None = None):
        store.tmp.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=store.tmp)
        self._tmp = Path(name)
        self._out = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.abort()
            raise PayloadTooLarge(f"Файл больше допустимого размера ({self.max_bytes // 1024 // 1024} МБ).")
        self._digest.update(chunk)
        self._out.write(chunk)

    def commit(self, *, expected_sha256: str | None = None) -> StoredBlob:
        try:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            sha256 = self._digest.hexdigest()
            if expected_sha256 is not None and not hmac.compare_digest(sha256, expected_sha256.strip().lower()):
                raise ChecksumMismatch(
                    f"SHA-256 полученного файла ({sha256}) не совпадает с заявленным ({expected_sha256}); "
                    "файл повреждён при передаче — загрузите его ещё раз.")
            target = self.store.path(sha256)
            if target.exists():
                self._tmp.unlink()
                return StoredBlob(sha256, self.size, created=False)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self._tmp, 0o444)
            os.replace(self._tmp, target)
            _fsync_dir(target.parent)
            return StoredBlob(sha256, self.size, created=True)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop what was written; safe to call more than once."""
        if not self._out.closed:
            self._out.close()
        self._tmp.unlink(missing_ok=True)


def blob_store(settings) -> BlobStore:
    """The configured blob store (local disk in the data home)."""
    return LocalBlobStore(settings.blobs_path)

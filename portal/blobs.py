"""The content-addressed blob store: ticket attachments now, fix packages later.

A blob is named by the SHA-256 of its bytes and stored once, however many times it is uploaded.
``BlobStore`` is the small protocol; ``LocalBlobStore`` keeps blobs on the data home's disk as
``blobs/sha256/ab/cd/<hash>``. A write streams into a temporary file inside the store (never the
whole file in memory), hashes while it streams, stops at the size limit, fsyncs the file, renames
it into place and fsyncs the directory, so a crash leaves either the whole blob or nothing but a
temporary file.

Ownership, so that nothing is left behind and nothing in use is removed:

* **temporary files** are held by their writer with an exclusive ``flock`` for as long as it writes; the
  kernel drops the lock when the process dies, however it dies. ``sweep_temporary()`` (at every start and by
  the job ``blobs.sweep``) removes at once every temporary file nobody holds, and never one being written.
* **blobs** are shared by content: two uploads of the same bytes store one file. A failed upload therefore
  never simply deletes "its" blob — the other upload may be about to register it. ``discard()`` removes a
  blob only when this writer created it, nobody stored the same bytes since (storing existing bytes
  refreshes the blob's mtime) and no row refers to it, deciding under an exclusive per-prefix lock that
  ``commit()`` also takes (shared). Whatever is left unreferenced is removed by ``sweep_orphans()`` once it
  is older than the grace period (``PORTAL_BLOB_GRACE_HOURS``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import io
import os
import re
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol
from urllib.parse import quote

from portal.errors import Invalid, NotFound, PayloadTooLarge, RangeNotSatisfiable, not_found
from portal.i18n import message

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
    mtime_ns: int = field(default=0, compare=False)  # the blob's mtime as this writer left it


class Readable(Protocol):
    """What a write reads from: a file, an upload's spooled file, a wrapper that counts the bytes read."""

    def read(self, n: int = -1, /) -> bytes: ...


class BlobStat(NamedTuple):
    st_size: int
    st_mtime: float  # when the bytes were last stored (seconds since the epoch)


class Temporary(NamedTuple):
    """A write not (yet) in place: a temporary file, or on S3 a multipart upload or temporary key."""

    name: str
    size: int
    held: bool  # a writer is at it now (as far as the store can tell)


class BlobWriter(Protocol):
    """One blob being written: ``write()`` each piece as it arrives, then ``commit()`` or ``abort()``."""

    size: int

    def write(self, chunk: bytes) -> None: ...

    def commit(self, *, expected_sha256: str | None = None) -> StoredBlob: ...

    def abort(self) -> None: ...


class BlobStore(Protocol):
    """Callers never see where the bytes lie: they read ranges through ``read_range()`` (or ``open()``)."""

    def describe(self) -> str: ...

    def put(self, stream: Readable, *, max_bytes: int | None = None) -> StoredBlob: ...

    def writer(self, *, max_bytes: int | None = None) -> BlobWriter: ...

    def remove(self, sha256: str) -> None: ...

    def stat_key(self, sha256: str) -> str | None: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def read_range(self, sha256: str, start: int, end: int) -> Generator[bytes, None, None]: ...

    def open_range(self, sha256: str, start: int, end: int) -> RangeReader: ...

    def exists(self, sha256: str) -> bool: ...

    def verify(self, sha256: str) -> bool: ...

    def sweep_temporary(self, *, older_than_seconds: float = 0) -> int: ...

    def discard(self, blob: StoredBlob, *, referenced: Callable[[str], bool]) -> bool: ...

    def sweep_orphans(self, *, referenced: set[str], grace_seconds: float) -> list[str]: ...

    def temporary_files(self) -> list[Temporary]: ...

    def all_blobs(self) -> Iterator[tuple[str, BlobStat]]: ...


READ_CHUNK = 512 * 1024


class RangeReader(Protocol):
    """Bytes ``start``..``end`` of one blob, piece by piece (``BlobStore.open_range``), for a server that sends
    from its event loop: what can be had at once is read there, only what must wait goes to a thread."""

    def read_ready(self) -> bytes | None:
        """The next piece if it is there without waiting (b"" at the end); None when only ``read()`` can get it."""

    def read(self) -> bytes:
        """The next piece, waiting for the disk or the network; b"" at the end or where the stored bytes ended."""

    def region(self) -> tuple[BinaryIO, int, int] | None:
        """The open file, offset and count of what is still to be read, for a server that sends a file itself
        (sendfile); None when the bytes are not in a local file."""

    def close(self) -> None: ...


class PieceReader:
    """A ``RangeReader`` whose every piece waits (an S3 body is read from the network)."""

    def __init__(self, pieces: Generator[bytes, None, None]):
        self._pieces = pieces

    def read_ready(self) -> bytes | None:
        return None

    def read(self) -> bytes:
        return next(self._pieces, b"")

    def region(self) -> None:
        return None

    def close(self) -> None:
        self._pieces.close()


class LocalRangeReader:
    """A byte range of a file on disk. A piece the page cache holds is read at once (``preadv`` with
    ``RWF_NOWAIT``, which refuses rather than wait for the disk); only the others need a thread. Handing every
    piece to a thread cost the portal half its CPU in thread switches: 8 downloads of a cached 256 MiB file
    took 2.2 CPU-seconds in the server with a thread per 512 KiB piece, 1.2 without."""

    def __init__(self, f: BinaryIO, start: int, end: int):
        self._file, self._fd = f, f.fileno()
        self._offset, self._remaining = start, end - start + 1
        self._buffer: memoryview | None = None  # preadv fills a buffer: one per reader, for every piece
        self._nowait = hasattr(os, "RWF_NOWAIT")

    def read_ready(self) -> bytes | None:
        if self._remaining <= 0:
            return b""
        if not self._nowait:
            return None
        if self._buffer is None:
            self._buffer = memoryview(bytearray(READ_CHUNK))
        try:
            got = os.preadv(self._fd, [self._buffer[:min(READ_CHUNK, self._remaining)]], self._offset,
                            os.RWF_NOWAIT)
        except BlockingIOError:  # not in the page cache: the disk would be waited for
            return None
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            self._nowait = False  # a file system without RWF_NOWAIT: every piece through read()
            return None
        return self._advance(bytes(self._buffer[:got]))

    def read(self) -> bytes:
        if self._remaining <= 0:
            return b""
        return self._advance(os.pread(self._fd, min(READ_CHUNK, self._remaining), self._offset))

    def region(self) -> tuple[BinaryIO, int, int]:
        return self._file, self._offset, self._remaining

    def _advance(self, piece: bytes) -> bytes:
        if not piece:  # the file shrank: stop short
            self._remaining = 0
        self._offset += len(piece)
        self._remaining -= len(piece)
        return piece

    def close(self) -> None:
        self._file.close()


def probe(store: BlobStore) -> None:
    """Write, read back and delete a few random bytes; raises whatever the store answers when it cannot."""
    payload = b"portal probe " + os.urandom(16).hex().encode()
    stored = store.put(io.BytesIO(payload))
    try:
        back = b"".join(store.read_range(stored.sha256, 0, len(payload) - 1))
        if back != payload:
            raise OSError(message("errors_files.probe_mismatch"))
    finally:
        store.remove(stored.sha256)  # random bytes: nobody else can have stored them




def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(writer: BlobWriter, stream: Readable) -> StoredBlob:
    """Feed ``stream`` to a store's writer and commit it; on any failure the writer leaves nothing behind."""
    try:
        while chunk := stream.read(CHUNK):
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.commit()


class LocalBlobStore:
    """Blobs on local disk under ``root``: ``sha256/ab/cd/<hash>``, temporary files in ``tmp/``."""

    def __init__(self, root: Path, *, locks: Path | None = None):
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        # Beside the store, not in it: the store holds nothing but blobs and temporary files.
        self.locks = Path(locks) if locks is not None else self.root.with_name(self.root.name + "-locks")

    @contextlib.contextmanager
    def prefix_lock(self, sha256: str, *, exclusive: bool) -> Iterator[None]:
        """The lock of every blob whose name starts like this one's (256 lock files, never removed): shared
        while a writer puts a blob in place, exclusive while a blob is checked and removed."""
        self.locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.locks / f"{sha256[:2]}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def describe(self) -> str:
        return f"file://{self.root}"  # beside S3's s3://…: one form in every language

    def path(self, sha256: str) -> Path:
        """Where a blob lies on disk: for this store's own use only (not in the protocol)."""
        if not SHA256_RE.match(sha256 or ""):
            raise not_found("file")
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def accel_uri(self, sha256: str, prefix: str) -> str:
        """The URI of the blob under an nginx ``internal`` location aliased to this store's root
        (``PORTAL_ACCEL_REDIRECT``): the portal answers with it and nginx sends the bytes."""
        return prefix + self.path(sha256).relative_to(self.root).as_posix()

    def put(self, stream: Readable, *, max_bytes: int | None = None) -> StoredBlob:
        """Store the bytes read from ``stream``; PayloadTooLarge past ``max_bytes`` (nothing is kept)."""
        return write_all(self.writer(max_bytes=max_bytes), stream)

    def writer(self, *, max_bytes: int | None = None) -> BlobWriter:
        """An incremental write, for bytes that arrive in pieces (a streamed multipart upload)."""
        return LocalBlobWriter(self, max_bytes=max_bytes)

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
            raise NotFound(message("errors_files.not_in_store")) from None

    def read_range(self, sha256: str, start: int, end: int) -> Generator[bytes, None, None]:
        """Bytes ``start``..``end`` (inclusive) in pieces of at most 512 KiB; stops short if the file shrank."""
        reader = self.open_range(sha256, start, end)
        try:
            while piece := reader.read():
                yield piece
        finally:
            reader.close()

    def open_range(self, sha256: str, start: int, end: int) -> LocalRangeReader:
        return LocalRangeReader(self.open(sha256), start, end)

    def verify(self, sha256: str) -> bool:
        """True when the stored bytes still hash to their name."""
        if not self.exists(sha256):
            return False
        digest = hashlib.sha256()
        with self.open(sha256) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def temporary_files(self) -> list[Temporary]:
        """Every temporary file with its size and whether a writer holds it now."""
        if not self.tmp.is_dir():
            return []
        out = []
        for path in sorted(self.tmp.glob(TEMP_PREFIX + "*")):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                size = os.fstat(fd).st_size
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    out.append(Temporary(str(path), size, False))
                except BlockingIOError:
                    out.append(Temporary(str(path), size, True))
            finally:
                os.close(fd)
        return out

    def sweep_temporary(self, *, older_than_seconds: float = 0) -> int:
        """Remove temporary files nobody holds (left by a killed or failed write); the number removed.

        A writer holds its file with an exclusive ``flock`` from creation to rename, and the kernel releases
        it when the writer dies, so a file we can lock is a leftover — removed at once, whatever its age
        (``older_than_seconds`` only narrows that further). Writes in flight in other processes are untouched.
        """
        if not self.tmp.is_dir():
            return 0
        removed, cutoff = 0, time.time() - older_than_seconds
        for leftover in self.tmp.glob(TEMP_PREFIX + "*"):
            try:
                fd = os.open(leftover, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_mtime <= cutoff and _same_file(leftover, fd):
                    leftover.unlink()
                    removed += 1
            except (BlockingIOError, FileNotFoundError):
                continue  # held by a writer, or gone meanwhile
            finally:
                os.close(fd)
        return removed

    def discard(self, blob: StoredBlob, *, referenced: Callable[[str], bool]) -> bool:
        """After a failed upload: remove the blob if this writer created it, nobody has stored the same bytes
        since, and ``referenced(sha256)`` finds no row; otherwise leave it (to its rows, or to the sweep)."""
        if not blob.created:
            return False
        path = self.path(blob.sha256)
        with self.prefix_lock(blob.sha256, exclusive=True):
            try:
                if path.stat().st_mtime_ns != blob.mtime_ns or referenced(blob.sha256):
                    return False
                path.unlink()
            except FileNotFoundError:
                return False
            _fsync_dir(path.parent)
        return True

    def all_blobs(self) -> Iterator[tuple[str, BlobStat]]:
        """(sha256, stat) of every stored blob."""
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for path in base.glob("??/??/*"):
            if SHA256_RE.match(path.name):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                yield path.name, BlobStat(st.st_size, st.st_mtime)

    def sweep_orphans(self, *, referenced: set[str], grace_seconds: float) -> list[str]:
        """Remove blobs no row refers to that nobody has stored for ``grace_seconds``; their names.

        ``referenced`` is read before the walk; a blob registered after that was stored (or stored again,
        which refreshes its mtime) within the grace period, so it is young and stays.
        """
        removed = []
        for sha256, st in list(self.all_blobs()):
            if sha256 in referenced or time.time() - st.st_mtime < grace_seconds:
                continue
            path = self.path(sha256)
            with self.prefix_lock(sha256, exclusive=True):
                try:
                    if time.time() - path.stat().st_mtime < grace_seconds:
                        continue  # stored again meanwhile
                    path.unlink()
                except FileNotFoundError:
                    continue
                _fsync_dir(path.parent)
            removed.append(sha256)
        return removed


def _same_file(path: Path, fd: int) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    fst = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


class LocalBlobWriter:
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
        while True:
            fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=store.tmp)
            # Held until renamed or removed; a sweep that locked the new file first may have removed it.
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(Path(name), fd):
                break
            os.close(fd)
        self._tmp = Path(name)
        self._lock_fd: int | None = os.dup(fd)  # keeps the lock while ``_out`` is closed before the rename
        self._out = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.abort()
            raise PayloadTooLarge(message("errors_files.too_large", mib=self.max_bytes // 1024 // 1024))
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
                    message("errors_files.sha256_mismatch", actual=sha256, claimed=expected_sha256))
            target = self.store.path(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self._tmp, 0o444)
            with self.store.prefix_lock(sha256, exclusive=False):
                if target.exists():
                    # Stored already (maybe by an upload that is about to fail and discard it): the fresh mtime
                    # tells discard() and the sweep that these bytes are wanted again.
                    os.utime(target)
                    self._unlink_tmp()
                    return StoredBlob(sha256, self.size, created=False, mtime_ns=target.stat().st_mtime_ns)
                os.replace(self._tmp, target)
                _fsync_dir(target.parent)
                created = StoredBlob(sha256, self.size, created=True, mtime_ns=target.stat().st_mtime_ns)
            self._release()
            return created
        except BaseException:
            self.abort()
            raise

    def _unlink_tmp(self) -> None:
        self._tmp.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def abort(self) -> None:
        """Drop what was written; safe to call more than once."""
        if not self._out.closed:
            self._out.close()
        self._unlink_tmp()


def accel_uri(settings, store: BlobStore, sha256: str) -> str | None:
    """Where nginx finds the blob when downloads are handed to it (``X-Accel-Redirect``); None when the portal
    sends the bytes itself (no PORTAL_ACCEL_REDIRECT, or a store nginx cannot read from disk)."""
    if not settings.accel_redirect or not isinstance(store, LocalBlobStore):
        return None
    return store.accel_uri(sha256, settings.accel_redirect)


def blob_store(settings) -> BlobStore:
    """The configured blob store: local disk in the data home, or an S3-compatible bucket (``PORTAL_BLOB_STORE``)."""
    location = settings.s3_location
    if location is None:
        return LocalBlobStore(settings.blobs_path, locks=settings.locks_path / "blobs")
    from portal import blobs_s3  # boto3 is loaded only where S3 is configured

    bucket, prefix = location
    return blobs_s3.store(bucket=bucket, prefix=prefix, endpoint_url=settings.s3_endpoint_url or None,
                          region=settings.s3_region or None)


# --- byte ranges of a stored file, as HTTP asks for them (package downloads and ticket attachments) -------

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range asked for, or None for the whole file; 416 for anything malformed or unsatisfiable.

    Several ranges (``bytes=0-1,5-9``) are refused: resuming needs one, and multipart/byteranges answers
    cost memory and give nothing here.
    """
    if header is None:
        return None
    unsatisfiable = {"Content-Range": f"bytes */{size}"}
    value = header.strip().replace(" ", "")
    if "," in value:
        raise RangeNotSatisfiable(message("errors_files.range_several"),
                                  headers=unsatisfiable)
    match = RANGE_RE.match(value)
    if match is None or match.group(1) == match.group(2) == "":
        raise RangeNotSatisfiable(message("errors_files.range_unreadable", header=header[:100]),
                                  headers=unsatisfiable)
    first, last = _position(match.group(1)), _position(match.group(2))
    if first == "":
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(message("errors_files.range_empty"), headers=unsatisfiable)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if end < start:
        raise RangeNotSatisfiable(message("errors_files.range_backwards", header=header[:100]), headers=unsatisfiable)
    if start >= size:
        raise RangeNotSatisfiable(message("errors_files.range_past_end", size=size), headers=unsatisfiable)
    return ByteRange(start, min(end, size - 1))


def _position(digits: str) -> str:
    """A byte position as written, without leading zeros and capped: any number longer than 19 digits is past
    the end of every file, and Python refuses to convert strings of more than 4300 digits at all."""
    digits = digits.lstrip("0") or ("0" if digits else "")
    return digits if len(digits) <= 19 else "9" * 19


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the real name in RFC 5987 encoding (Cyrillic survives)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%;' else "_" for c in name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates

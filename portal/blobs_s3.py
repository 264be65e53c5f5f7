"""The blob store in an S3-compatible bucket (``PORTAL_BLOB_STORE=s3://BUCKET/PREFIX``).

Keys under the prefix:

* ``sha256/ab/cd/<hash>`` — the blobs, named by content as on disk, written once and never overwritten;
* ``tmp/upload-<uuid>`` — a write in progress: a multipart upload (or, for a short file, one PUT) whose
  SHA-256 is computed as the parts go out, so memory holds one part (8 MiB) at most, whatever the size;
* ``touch/<hash>`` — an empty object written when bytes already stored are stored again. S3 objects cannot be
  "touched" without rewriting them, so this marker's date plays the part of the local store's fresh mtime:
  the sweep and ``discard()`` read a blob's age as the later of the two.

``commit()`` copies the temporary object to its content address with ``If-None-Match: *``, so an existing blob
is never replaced (a concurrent writer of the same bytes loses the race harmlessly), then deletes the temporary
key. A write that fails aborts its multipart upload and deletes its temporary key; one whose process was killed
leaves a multipart upload (invisible to readers, never an object at a content address), which the sweep aborts
once it is older than the grace period — no lock can tell across machines whether its writer still lives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from portal.blobs import (
    CHUNK,
    READ_CHUNK,
    SHA256_RE,
    TEMP_PREFIX,
    BlobStat,
    ChecksumMismatch,
    PieceReader,
    Readable,
    StoredBlob,
    Temporary,
    write_all,
)
from portal.errors import NotFound, PayloadTooLarge, Unavailable
from portal.i18n import message

PART_SIZE = 8 * 1024 * 1024  # S3 wants parts of 5 MiB at least (but the last)
COPY_LIMIT = 5 * 1024 ** 3  # one CopyObject copies at most 5 GiB; larger blobs are copied part by part
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}

_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


log = logging.getLogger("portal.blobs_s3")


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


def _refused(exc: Exception) -> Unavailable:
    """The store failed while taking a file: a 503 that says nothing was kept, not a 500."""
    reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return Unavailable(message("errors_core.s3_refused", reason=reason),
                       headers={"Retry-After": "60"})


def _precondition_failed(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") in {"PreconditionFailed", "412"} or \
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412


def client(*, endpoint_url: str | None, region: str | None) -> Any:
    """One client per endpoint and region for the process: building one costs tens of milliseconds, and boto3
    clients are safe to share between threads."""
    key = (endpoint_url, region)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
                config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
                              s3={"addressing_style": "path"}, max_pool_connections=50))
        return _clients[key]


def store(*, bucket: str, prefix: str, endpoint_url: str | None, region: str | None) -> S3BlobStore:
    return S3BlobStore(client(endpoint_url=endpoint_url, region=region), bucket=bucket, prefix=prefix)


def _epoch(value: dt.datetime) -> float:
    return value.timestamp()


class S3BlobStore:
    """Blobs as objects in ``bucket`` under ``prefix`` (empty or ending in ``/``)."""

    def __init__(self, s3: Any, *, bucket: str, prefix: str = "", part_size: int = PART_SIZE,
                 copy_limit: int = COPY_LIMIT, abandon_after_seconds: float | None = None):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.copy_limit = copy_limit
        # How old a temporary upload must be before anyone may take it for abandoned (None: the caller's grace).
        self.abandon_after_seconds = abandon_after_seconds

    def describe(self) -> str:
        return f"S3 s3://{self.bucket}/{self.prefix}"

    # --- keys -------------------------------------------------------------------------------------------
    def key(self, sha256: str) -> str:
        if not SHA256_RE.match(sha256 or ""):
            raise NotFound(message("error.missing.file"))
        return f"{self.prefix}sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def _touch_key(self, sha256: str) -> str:
        return f"{self.prefix}touch/{sha256}"

    @property
    def _tmp_prefix(self) -> str:
        return f"{self.prefix}tmp/{TEMP_PREFIX}"

    # --- reading ----------------------------------------------------------------------------------------
    def _head(self, key: str) -> dict | None:
        try:
            return cast(dict, self.s3.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def exists(self, sha256: str) -> bool:
        return self._head(self.key(sha256)) is not None

    def stat_key(self, sha256: str) -> str | None:
        """(ETag, size, date) of the object: any new bytes under the key change it."""
        head = self._head(self.key(sha256))
        if head is None:
            return None
        return f"{head['ETag'].strip(chr(34))}:{head['ContentLength']}:{_epoch(head['LastModified']):.0f}"

    def open(self, sha256: str) -> BinaryIO:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise NotFound(message("errors_files.not_in_store")) from None
            raise
        return cast(BinaryIO, body)

    def read_range(self, sha256: str, start: int, end: int) -> Generator[bytes, None, None]:
        """Bytes ``start``..``end`` (inclusive) by one ranged GET, in pieces of at most 512 KiB."""
        if end < start:
            return
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key(sha256), Range=f"bytes={start}-{end}")["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise NotFound(message("errors_files.not_in_store")) from None
            raise
        try:
            yield from body.iter_chunks(READ_CHUNK)
        finally:
            body.close()

    def open_range(self, sha256: str, start: int, end: int) -> PieceReader:
        return PieceReader(self.read_range(sha256, start, end))

    def verify(self, sha256: str) -> bool:
        digest = hashlib.sha256()
        try:
            with self.open(sha256) as body:
                while chunk := body.read(CHUNK):
                    digest.update(chunk)
        except NotFound:
            return False
        return digest.hexdigest() == sha256

    def _age_base(self, sha256: str, stored: float) -> float:
        """When these bytes were last stored: the blob's date, or its touch marker's if later."""
        touch = self._head(self._touch_key(sha256))
        return max(stored, _epoch(touch["LastModified"])) if touch else stored

    def all_blobs(self) -> Iterator[tuple[str, BlobStat]]:
        for item in self._list(f"{self.prefix}sha256/"):
            sha256 = item["Key"].rsplit("/", 1)[-1]
            if SHA256_RE.match(sha256):
                yield sha256, BlobStat(item["Size"], self._age_base(sha256, _epoch(item["LastModified"])))

    def _list(self, prefix: str) -> Iterator[dict]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _uploads(self) -> Iterator[dict]:
        for page in self.s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                             Prefix=self._tmp_prefix):
            yield from page.get("Uploads", [])

    # --- writing ----------------------------------------------------------------------------------------
    def put(self, stream: Readable, *, max_bytes: int | None = None) -> StoredBlob:
        return write_all(self.writer(max_bytes=max_bytes), stream)

    def writer(self, *, max_bytes: int | None = None) -> S3BlobWriter:
        return S3BlobWriter(self, max_bytes=max_bytes)

    def remove(self, sha256: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.key(sha256))
        self.s3.delete_object(Bucket=self.bucket, Key=self._touch_key(sha256))

    def discard(self, blob: StoredBlob, *, referenced: Callable[[str], bool]) -> bool:
        """After a failed upload: remove the blob if this writer created it, nobody stored the same bytes since
        (no touch marker newer than it) and no row refers to it. Without locks across machines a writer may
        store the same bytes between the check and the delete; its row then names a missing blob, which
        ``portal package verify`` reports — the window is one round trip, the grace period covers the rest."""
        if not blob.created:
            return False
        head = self._head(self.key(blob.sha256))
        if head is None:
            return False
        stored = _epoch(head["LastModified"])
        if int(stored * 1e9) != blob.mtime_ns or self._age_base(blob.sha256, stored) > stored \
                or referenced(blob.sha256):
            return False
        self.remove(blob.sha256)
        return True

    def sweep_orphans(self, *, referenced: set[str], grace_seconds: float) -> list[str]:
        removed = []
        for sha256, st in list(self.all_blobs()):
            if sha256 in referenced or time.time() - st.st_mtime < grace_seconds:
                continue
            head = self._head(self.key(sha256))
            if head is None or time.time() - self._age_base(sha256, _epoch(head["LastModified"])) < grace_seconds:
                continue  # gone, or stored again meanwhile
            self.remove(sha256)
            removed.append(sha256)
        # Touch markers whose blob is gone (removed by hand, or between the marker and the copy).
        for item in self._list(f"{self.prefix}touch/"):
            sha256 = item["Key"].rsplit("/", 1)[-1]
            if time.time() - _epoch(item["LastModified"]) >= grace_seconds and not self.exists(sha256):
                self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
        return removed

    def _abandoned(self, started: float, older_than_seconds: float) -> bool:
        limit = max(older_than_seconds, self.abandon_after_seconds if self.abandon_after_seconds is not None
                    else _DEFAULT_ABANDON_SECONDS)
        return time.time() - started >= limit

    def temporary_files(self) -> list[Temporary]:
        out = []
        for upload in self._uploads():
            held = upload["UploadId"] in _LIVE or not self._abandoned(_epoch(upload["Initiated"]), 0)
            out.append(Temporary(f"s3://{self.bucket}/{upload['Key']} (multipart {upload['UploadId'][:12]}…)",
                                 self._upload_size(upload), held))
        for item in self._list(self._tmp_prefix):
            held = item["Key"] in _LIVE or not self._abandoned(_epoch(item["LastModified"]), 0)
            out.append(Temporary(f"s3://{self.bucket}/{item['Key']}", item["Size"], held))
        return out

    def _upload_size(self, upload: dict) -> int:
        try:
            parts = self.s3.list_parts(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        except ClientError:
            return 0
        return sum(part["Size"] for part in parts.get("Parts", []))

    def sweep_temporary(self, *, older_than_seconds: float = 0) -> int:
        """Abort multipart uploads and delete temporary keys left by writers that died: those older than the
        abandon limit and not being written by this process."""
        removed = 0
        for upload in list(self._uploads()):
            if upload["UploadId"] in _LIVE or not self._abandoned(_epoch(upload["Initiated"]), older_than_seconds):
                continue
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                removed += 1
            except ClientError as exc:
                if not _missing(exc):
                    raise
        for item in list(self._list(self._tmp_prefix)):
            if item["Key"] in _LIVE or not self._abandoned(_epoch(item["LastModified"]), older_than_seconds):
                continue
            self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
            removed += 1
        return removed


# Temporary uploads being written by this process: never swept by it, whatever their age.
_LIVE: set[str] = set()
# A temporary upload of another process is taken for abandoned after this long (a day: no upload lasts that).
_DEFAULT_ABANDON_SECONDS = 24 * 3600.0


class S3BlobWriter:
    """One blob going into the bucket: parts of ``part_size`` go out as they fill, hashed on the way."""

    def __init__(self, store: S3BlobStore, *, max_bytes: int | None = None):
        self.store = store
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self._tmp_key = f"{store._tmp_prefix}{uuid.uuid4().hex}"
        self._upload_id: str | None = None
        self._parts: list[dict] = []
        self._done = False
        _LIVE.add(self._tmp_key)

    @property
    def _s3(self) -> Any:
        return self.store.s3

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.abort()
            raise PayloadTooLarge(message("errors_files.too_large", mib=self.max_bytes // 1024 // 1024))
        self._digest.update(chunk)
        self._buffer += chunk
        try:
            while len(self._buffer) >= self.store.part_size:
                self._send_part(bytes(self._buffer[:self.store.part_size]))
                del self._buffer[:self.store.part_size]
        except (ClientError, BotoCoreError) as exc:
            self._abort_after_failure()
            raise _refused(exc) from exc
        except BaseException:
            self.abort()
            raise

    def _send_part(self, data: bytes) -> None:
        if self._upload_id is None:
            upload = self._s3.create_multipart_upload(Bucket=self.store.bucket, Key=self._tmp_key)
            self._upload_id = upload["UploadId"]
            _LIVE.add(self._upload_id)
        number = len(self._parts) + 1
        answer = self._s3.upload_part(Bucket=self.store.bucket, Key=self._tmp_key, UploadId=self._upload_id,
                                      PartNumber=number, Body=data)
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self, *, expected_sha256: str | None = None) -> StoredBlob:
        try:
            sha256 = self._digest.hexdigest()
            if expected_sha256 is not None and not hmac.compare_digest(sha256, expected_sha256.strip().lower()):
                raise ChecksumMismatch(
                    message("errors_files.sha256_mismatch", actual=sha256, claimed=expected_sha256))
            self._finish_temporary()
            created = self._place(sha256)
            if created is None:
                # Stored already: the marker's fresh date tells discard() and the sweep these bytes are wanted.
                self._s3.put_object(Bucket=self.store.bucket, Key=self.store._touch_key(sha256), Body=b"")
                head = self.store._head(self.store.key(sha256))
                mtime = int(_epoch(head["LastModified"]) * 1e9) if head else 0
                result = StoredBlob(sha256, self.size, created=False, mtime_ns=mtime)
            else:
                result = StoredBlob(sha256, self.size, created=True, mtime_ns=created)
        except (ClientError, BotoCoreError) as exc:
            self._abort_after_failure()
            raise _refused(exc) from exc
        except BaseException:
            self.abort()
            raise
        self._drop_temporary()
        return result

    def _finish_temporary(self) -> None:
        bucket, key = self.store.bucket, self._tmp_key
        if self._upload_id is None:  # a short file: one PUT, no multipart upload
            self._s3.put_object(Bucket=bucket, Key=key, Body=bytes(self._buffer))
        else:
            if self._buffer or not self._parts:
                self._send_part(bytes(self._buffer))
            self._s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=self._upload_id,
                                               MultipartUpload={"Parts": self._parts})
            _LIVE.discard(self._upload_id)
            self._upload_id = None
        self._buffer = bytearray()

    def _place(self, sha256: str) -> int | None:
        """Copy the temporary object to its content address unless something is there; its date in ns, or
        None when the blob was stored already."""
        bucket, target = self.store.bucket, self.store.key(sha256)
        source = {"Bucket": bucket, "Key": self._tmp_key}
        try:
            if self.size <= self.store.copy_limit:
                self._s3.copy_object(Bucket=bucket, Key=target, CopySource=source, IfNoneMatch="*")
            else:
                self._copy_in_parts(source, target)
        except ClientError as exc:
            if _precondition_failed(exc):
                return None
            raise
        head = self.store._head(target)
        return int(_epoch(head["LastModified"]) * 1e9) if head else 0

    def _copy_in_parts(self, source: dict, target: str) -> None:
        if self.store._head(target) is not None:
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "CopyObject")
        bucket, limit = self.store.bucket, self.store.copy_limit
        upload_id = self._s3.create_multipart_upload(Bucket=bucket, Key=target)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, self.size, limit), start=1):
                end = min(start + limit, self.size) - 1
                answer = self._s3.upload_part_copy(Bucket=bucket, Key=target, UploadId=upload_id, PartNumber=number,
                                                   CopySource=source, CopySourceRange=f"bytes={start}-{end}")
                parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
            self._s3.complete_multipart_upload(Bucket=bucket, Key=target, UploadId=upload_id,
                                               MultipartUpload={"Parts": parts}, IfNoneMatch="*")
        except BaseException:
            self._s3.abort_multipart_upload(Bucket=bucket, Key=target, UploadId=upload_id)
            raise

    def _drop_temporary(self) -> None:
        try:
            self._s3.delete_object(Bucket=self.store.bucket, Key=self._tmp_key)
        finally:
            _LIVE.discard(self._tmp_key)
            self._done = True

    def _abort_after_failure(self) -> None:
        """Abort after the store failed: when the store does not answer the abort either, the leftover upload is
        the sweep's (``blobs.sweep`` aborts uploads older than a day), and the first failure is the one to tell."""
        try:
            self.abort()
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not abort upload %s after the store failed: %s", self._tmp_key, exc)

    def abort(self) -> None:
        """Abort the multipart upload and delete the temporary key; safe to call more than once."""
        if self._done:
            return
        self._done = True
        try:
            if self._upload_id is not None:
                upload_id, self._upload_id = self._upload_id, None
                _LIVE.discard(upload_id)
                try:
                    self._s3.abort_multipart_upload(Bucket=self.store.bucket, Key=self._tmp_key, UploadId=upload_id)
                except ClientError as exc:
                    if not _missing(exc):
                        raise
            self._s3.delete_object(Bucket=self.store.bucket, Key=self._tmp_key)
        finally:
            _LIVE.discard(self._tmp_key)
            self._buffer = bytearray()

"""Downloads of package files: entitled readers only, one byte range at most, streamed from the store, logged.

The answer sends the byte range from the blob store (``portal.blob_responses``): under `portal serve` a file in
the local store goes out with sendfile, the server's zero-copy send; otherwise — one ranged GET from S3 (the
portal streams S3 objects through itself so that Range, ETag, resumption and the download log stay one code
path), or a server without the extension — in 512 KiB pieces, so memory stays flat whatever the file size and
however many downloads run. Before any byte leaves, the stored file must still be the one
that hashed right: its (inode, size, mtime, ctime) is compared with the one recorded when its SHA-256 was
last checked, and any difference means a full re-hash — a file whose bytes no longer match is marked
corrupt and never served. ``portal package verify`` re-hashes everything regardless.

Every download (GET with a body) is logged when the stream ends: user, organisation, file, range,
bytes sent, complete or not. A complete download by a customer marks the delivery downloaded.

With ``PORTAL_ACCEL_REDIRECT`` (the local store on a disk nginx reads) the portal authorises, checks and logs
exactly as above and answers with ``X-Accel-Redirect``: nginx sends the bytes, with Range, If-Range and
sendfile. The log row then records the hand-over (the range asked for, handed over whole); what reached the
client is in nginx's access log. S3 objects always stream through the portal (see docs/deployment.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote

from starlette.responses import Response

from portal import audit, blobs, policy
from portal.accounts.models import User
from portal.blob_responses import BlobRangeResponse
from portal.blobs import ByteRange, content_disposition, etag_matches, parse_range
from portal.db import Database, utcnow
from portal.errors import NotFound, PortalError, not_found
from portal.i18n import message
from portal.releases import deliveries, service
from portal.releases.models import Download, Package, PackageFile, PackageStatus

log = logging.getLogger("portal.releases.downloads")

class Gone(PortalError):
    status_code = 410


class CorruptFile(PortalError):
    status_code = 503


def etag_of(file: PackageFile) -> str:
    return f'"sha256-{file.sha256}"'


def find_file(package: Package, name: str) -> PackageFile:
    for file in package.files:
        if file.name == name:
            return file
    raise NotFound(message("errors_releases.no_such_file", id=package.id, name=name[:200]))


def check_servable(*, db: Database, settings, package: Package, file: PackageFile, user) -> None:
    """Refuse withdrawn packages and files whose bytes no longer match their SHA-256."""
    if package.status == PackageStatus.withdrawn:
        raise Gone(message("errors_releases.withdrawn_download", id=package.id,
                           date=f"{package.withdrawn_at:%d.%m.%Y}", reason=package.withdraw_reason))
    if package.status == PackageStatus.draft and not user.is_staff:
        raise not_found("package")
    if file.corrupt_at is not None:
        raise CorruptFile(_corrupt_message(file))
    store = blobs.blob_store(settings)
    key = store.stat_key(file.sha256)
    if key is not None and key == file.verified_stat:
        return
    ok = key is not None and store.verify(file.sha256)
    with db.session_scope() as session:
        row = session.get(PackageFile, file.id)
        if row is None:  # its draft was deleted meanwhile
            raise NotFound(message("errors_releases.no_such_file", id=package.id, name=file.name[:200]))
        if ok:
            row.verified_stat = store.stat_key(file.sha256) or ""
            return
        row.corrupt_at = utcnow()
        actor = policy.SystemActor.job("releases.verify")
        policy.require(actor, "package.mark_corrupt")
        audit.record(session, actor=actor, action="package.file_corrupt", object_type="package",
                     object_id=package.id, details={"file": file.name, "sha256": file.sha256,
                                                    "missing": key is None})
    log.error("package %s file %s: stored bytes no longer match SHA-256 %s", package.id, file.name, file.sha256)
    raise CorruptFile(_corrupt_message(file))


def _corrupt_message(file: PackageFile) -> str:
    return message("errors_releases.file_corrupt", name=file.name, sha256=file.sha256)


def file_headers(file: PackageFile) -> dict[str, str]:
    return {
        "Content-Disposition": content_disposition(file.name),
        "X-Content-Type-Options": "nosniff",
        "X-Checksum-SHA256": file.sha256,
        "X-Signature-Ed25519": file.signature,
        "ETag": etag_of(file),
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-transform",
    }


class PackageFileResponse(BlobRangeResponse):
    """A package file's byte range (portal.blob_responses), with the file's headers; logged by ``on_finish``."""

    def __init__(self, *, store: blobs.BlobStore, file: PackageFile, byte_range: ByteRange | None, head: bool,
                 on_finish=None):
        super().__init__(store=store, sha256=file.sha256, size=file.size, byte_range=byte_range, head=head,
                         headers=file_headers(file), on_finish=on_finish)


def download_response(*, db: Database, settings, package: Package, file: PackageFile, user: User,
                      range_header: str | None, if_none_match: str | None, if_range: str | None,
                      head: bool) -> Response:
    """The answer to GET or HEAD of a package file (the caller checked the entitlement)."""
    check_servable(db=db, settings=settings, package=package, file=file, user=user)
    etag = etag_of(file)
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag, "X-Checksum-SHA256": file.sha256})
    if if_range is not None and if_range.strip() != etag:
        range_header = None  # the client's partial copy is of something else: send the whole file
    byte_range = parse_range(range_header, file.size)
    store = blobs.blob_store(settings)
    if head:
        return PackageFileResponse(store=store, file=file, byte_range=byte_range, head=True)
    started = utcnow()
    # Plain values: the response finishes after the request's session has closed.
    package_id, file_id, file_name = package.id, file.id, file.name
    user_id, username, organization_id = user.id, user.username, user.organization_id
    accel = blobs.accel_uri(settings, store, file.sha256)
    if accel is not None:
        handed = HandedOver(file=file, byte_range=byte_range, uri=accel)
        log_download(db=db, started=started, response=handed, complete=True, package_id=package_id, file_id=file_id,
                     file_name=file_name, user_id=user_id, username=username, organization_id=organization_id)
        return handed

    def finish(response: PackageFileResponse, complete: bool) -> None:
        log_download(db=db, started=started, response=response, complete=complete, package_id=package_id,
                     file_id=file_id, file_name=file_name, user_id=user_id, username=username,
                     organization_id=organization_id)

    return PackageFileResponse(store=store, file=file, byte_range=byte_range, head=False, on_finish=finish)


class HandedOver(Response):
    """``X-Accel-Redirect``: the portal has authorised the download and nginx sends the bytes from the blob
    store's directory (Range, If-Range and sendfile by nginx; the headers set here go out with them)."""

    def __init__(self, *, file: PackageFile, byte_range: ByteRange | None, uri: str):
        self.size = file.size
        self.range = byte_range or ByteRange(0, file.size - 1)
        self.bytes_sent = self.range.length  # handed over: what nginx is to send (its access log has the rest)
        super().__init__(status_code=206 if byte_range is not None else 200, media_type="application/octet-stream",
                         headers={**file_headers(file), "X-Accel-Redirect": quote(uri)})
        # nginx sets the length and the range of what it sends; a body length of ours would contradict it.
        del self.headers["content-length"]


def log_download(*, db: Database, started: dt.datetime, response: PackageFileResponse | HandedOver, complete: bool,
                 package_id: str, file_id: int, file_name: str, user_id: int, username: str,
                 organization_id: int | None) -> None:
    """Write the download's log row; a complete download to the file's end marks the delivery downloaded."""
    reaches_end = response.range.end == response.size - 1
    try:
        with db.session_scope() as session:
            session.add(Download(
                package_id=package_id, file_id=file_id, file_name=file_name, user_id=user_id, username=username,
                organization_id=organization_id, started_at=started, finished_at=utcnow(),
                range_start=response.range.start, range_end=response.range.end, bytes_sent=response.bytes_sent,
                complete=complete, status_code=response.status_code,
            ))
            if complete and reaches_end and organization_id is not None:
                package = service.get_package_unchecked(session=session, package_id=package_id)
                user = session.get(User, user_id)
                if user is not None:
                    deliveries.mark_downloaded(session=session, package=package, user=user)
    except Exception:  # the bytes went out; a failed log line must not turn into a broken response
        log.exception("could not log the download of %s/%s by %s", package_id, file_name, username)

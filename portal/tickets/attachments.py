"""Files attached to a ticket (logs, screenshots), kept in the blob store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy.orm import Session
from starlette.responses import Response

from portal import blobs, policy
from portal.blob_responses import BlobRangeResponse
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Invalid, NotFound, not_found
from portal.i18n import message
from portal.policy import Actor
from portal.tickets.history import record_event
from portal.tickets.merged import refuse_if_merged
from portal.tickets.models import (
    Ticket,
    TicketAttachment,
)

FILENAME_MAX = 200


def check_filename(name: str) -> str:
    """A safe attachment name: no control characters, slashes or backslashes, not over-long."""
    name = (name or "").strip()
    if not name or name in (".", ".."):
        raise Invalid.fields({"filename": message("errors_tickets.file_no_name")})
    if len(name) > FILENAME_MAX:
        raise Invalid.fields({"filename": message("errors_tickets.file_name_long", max=FILENAME_MAX)})
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "/" in name or "\\" in name:
        raise Invalid.fields({"filename": message("errors_tickets.file_name_chars")})
    return name


@dataclass(frozen=True)
class StoredFile:
    """A checked file name and its bytes already in the blob store, not yet attached to anything."""

    filename: str
    blob: blobs.StoredBlob


def store_file(*, settings: Settings, filename: str, stream: BinaryIO) -> StoredFile:
    """Check the name and put the bytes into the blob store, outside any database transaction.

    Hashing and syncing up to ``PORTAL_MAX_ATTACHMENT_BYTES`` takes long enough that it must not happen while
    the request holds the write lock; routes call this first and attach in a short transaction after. Bytes
    that end up attached to nothing (the ticket was refused meanwhile) are collected by the ``blobs.sweep``
    job after ``PORTAL_BLOB_GRACE_HOURS``.
    """
    filename = check_filename(filename)
    stored = blobs.blob_store(settings).put(stream, max_bytes=settings.max_attachment_bytes)
    if stored.size == 0:
        raise Invalid.fields({"file": message("errors_tickets.file_empty")})
    return StoredFile(filename=filename, blob=stored)


def add_attachment(*, session: Session, settings: Settings, ticket: Ticket, actor: Actor, filename: str = "",
                   stream: BinaryIO | None = None, content_type: str | None = None,
                   stored_file: StoredFile | None = None) -> TicketAttachment:
    """Attach a file (logs, screenshots) to the ticket: one already stored by ``store_file``, or ``stream``."""
    policy.require(actor, "ticket.attach", ticket)
    refuse_if_merged(ticket)
    if stored_file is None:
        if stream is None:
            raise Invalid.fields({"file": message("errors_tickets.file_missing")})
        stored_file = store_file(settings=settings, filename=filename, stream=stream)
    filename, stored = stored_file.filename, stored_file.blob
    attachment = TicketAttachment(
        ticket_id=ticket.id, filename=filename, content_type=(content_type or "application/octet-stream")[:100],
        sha256=stored.sha256, size=stored.size, uploaded_at=utcnow(),
        uploaded_by_id=actor.person.id if actor.person is not None else None,
        uploaded_by_name=actor.display_name,
    )
    session.add(attachment)
    session.flush()
    record_event(session=session, ticket=ticket, actor=actor, kind="attachment",
                 details={"filename": filename, "size": stored.size, "sha256": stored.sha256})
    return attachment


def get_attachment(*, session: Session, ticket: Ticket, attachment_id: int) -> TicketAttachment:
    attachment = session.get(TicketAttachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket.id:
        raise not_found("attachment", attachment_id)
    return attachment


def download_response(*, settings: Settings, attachment: TicketAttachment, range_header: str | None = None,
                      if_none_match: str | None = None, if_range: str | None = None) -> Response:
    """The attachment's bytes (the caller checked who may read the ticket): one byte range at most, sent from the
    blob store as a package file is (``portal.blob_responses``: sendfile from local disk, streamed from S3) and
    never read whole, or handed to nginx with ``X-Accel-Redirect``.

    A HAR file or a log of hundreds of megabytes over a poor line is resumed (Range, If-Range) like a package.
    """
    store = blobs.blob_store(settings)
    sha256 = attachment.sha256
    if not store.exists(sha256):
        raise NotFound(message("errors_tickets.attachment_blob_missing"))
    etag = f'"sha256-{sha256}"'
    headers = {"Content-Disposition": blobs.content_disposition(attachment.filename), "ETag": etag,
               "Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-transform"}
    if blobs.etag_matches(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    if if_range is not None and if_range.strip() != etag:
        range_header = None  # the client's partial copy is of something else: send the whole file
    asked = blobs.parse_range(range_header, attachment.size)
    accel = blobs.accel_uri(settings, store, sha256)
    if accel is not None:  # nginx answers the Range itself
        handed = Response(status_code=200, media_type="application/octet-stream",
                          headers={**headers, "X-Accel-Redirect": accel})
        del handed.headers["content-length"]
        return handed
    return BlobRangeResponse(store=store, sha256=sha256, size=attachment.size, byte_range=asked, head=False,
                             headers=headers)

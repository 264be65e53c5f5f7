"""The streamed multipart upload of package files.

FastAPI's form parsing spools every file to a temporary file of its own before the route runs; a
package of several GiB would then be written twice and sit outside the blob store. Here the request
body is fed, in pieces of about 1 MiB, to python-multipart's streaming parser in a worker thread, and
each file part goes straight into a ``BlobWriter`` (temporary file in the store, SHA-256 while
streaming, size limit, fsync and rename when the part ends). Memory stays bounded by the piece size
and the small text fields. If anything fails — a bad name, the size limit, the client going away — the
temporary file is removed, and blobs this request created are removed unless the same bytes were stored
again meanwhile or a row uses them (``LocalBlobStore.discard``). A process killed mid-upload leaves a
temporary file nobody holds (removed at the next start) and perhaps blobs of its earlier files with no row
(removed by the job ``blobs.sweep`` after ``PORTAL_BLOB_GRACE_HOURS``).

Cookie-authenticated uploads (the page form) must carry the CSRF token before the first file part:
the form puts the hidden ``csrf_token`` field first, and browsers send fields in document order.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from portal import blobs, faults, policy
from portal.accounts import security
from portal.config import Settings
from portal.db import Database
from portal.deps import CSRF_COOKIE
from portal.errors import BadRequest, Forbidden, Invalid
from portal.i18n import message
from portal.releases import service
from portal.releases.service import StagedFile, check_file_name, discard_staged

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger("portal.releases.upload")

FEED_BYTES = 1024 * 1024
FILE_FIELDS = ("file", "files")
MAX_FIELDS = 50
MAX_FIELD_BYTES = 256 * 1024
MAX_FILES = 50
CSRF_FIELD = "csrf_token"


@dataclass
class UploadForm:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[StagedFile] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[-1] if values else default

    def values(self, name: str) -> list[str]:
        return self.fields.get(name, [])


class _Receiver:
    """python-multipart callbacks: text fields into memory (bounded), file parts into blob writers."""

    def __init__(self, *, settings: Settings, charset: str, csrf_ok: bool, check_csrf: Callable[[str], bool]):
        self.store = blobs.blob_store(settings)
        self.max_bytes = settings.max_upload_bytes
        self.charset = charset
        self.csrf_ok = csrf_ok
        self.check_csrf = check_csrf
        self.form = UploadForm()
        self.writer: blobs.BlobWriter | None = None
        self.file_name = ""
        self.field_name = ""
        self.value = bytearray()
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.field_count = 0

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished}

    def _decode(self, raw: bytes) -> str:
        return raw.decode(self.charset, errors="strict")

    def on_part_begin(self) -> None:
        self.disposition, self.header_name, self.header_value = b"", b"", b""
        self.writer, self.value = None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]
        if len(self.header_value) > 8192:
            raise BadRequest(message("errors_releases.multipart_header_long"))

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        if b"name" not in options:
            raise BadRequest(message("errors_releases.multipart_no_name"))
        try:
            self.field_name = self._decode(options[b"name"])
            filename = self._decode(options[b"filename"]) if b"filename" in options else None
        except UnicodeDecodeError:
            raise Invalid.fields({"file": message("errors_releases.name_not_utf8")}) from None
        if filename is None:
            self.field_count += 1
            if self.field_count > MAX_FIELDS:
                raise Invalid.fields({"body": message("errors_releases.too_many_fields", max=MAX_FIELDS)})
            return
        if self.field_name not in FILE_FIELDS:
            raise Invalid.fields({self.field_name: message("errors_releases.files_in_file_field")})
        if not self.csrf_ok:
            raise Forbidden(message("errors_releases.csrf_before_files"))
        if len(self.form.files) >= MAX_FILES:
            raise Invalid.fields({"file": message("errors_releases.too_many_files", max=MAX_FILES)})
        self.file_name = check_file_name(filename)
        self.writer = self.store.writer(max_bytes=self.max_bytes)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.writer is not None:
            self.writer.write(data[start:end])
            return
        self.value += data[start:end]
        if len(self.value) > MAX_FIELD_BYTES:
            raise Invalid.fields({self.field_name: message("errors_releases.field_long", kib=MAX_FIELD_BYTES // 1024)})

    def on_part_end(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            self.form.files.append(StagedFile(self.file_name, writer.commit()))
            faults.point("upload.after_file")
            return
        try:
            text = self._decode(bytes(self.value))
        except UnicodeDecodeError:
            raise Invalid.fields({self.field_name: message("errors_releases.value_not_utf8")}) from None
        if self.field_name == CSRF_FIELD:
            self.csrf_ok = self.csrf_ok or self.check_csrf(text)
            return
        self.form.fields.setdefault(self.field_name, []).append(text)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None


async def receive_form(request: Request, *, settings: Settings, db: Database, csrf_ok: bool,
                       check_csrf: Callable[[str], bool]) -> UploadForm:
    """Parse a multipart upload as it streams in; files land in the blob store, fields in the form."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise Invalid.fields({"body": message("errors_releases.multipart_expected")})
    charset = params.get(b"charset", b"utf-8").decode("latin-1")
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "utf-8"
    receiver = _Receiver(settings=settings, charset=charset, csrf_ok=csrf_ok, check_csrf=check_csrf)
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())
    pending = bytearray()
    try:
        async for chunk in request.stream():
            pending += chunk
            if len(pending) >= FEED_BYTES:
                piece, pending = bytes(pending), bytearray()
                await anyio.to_thread.run_sync(parser.write, piece)
        if pending:
            await anyio.to_thread.run_sync(parser.write, bytes(pending))
        await anyio.to_thread.run_sync(parser.finalize)
        if receiver.writer is not None:
            raise BadRequest(message("errors_releases.multipart_cut"))
    except BaseException as exc:
        receiver.abort()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(discard, db, settings, receiver.form.files)
        if isinstance(exc, ClientDisconnect):
            log.info("upload interrupted by the client; nothing kept")
            raise BadRequest(message("errors_releases.upload_interrupted")) from None
        if isinstance(exc, FormParserError):
            raise BadRequest(message("errors_releases.multipart_unreadable", reason=str(exc))) from None
        raise
    return receiver.form


def discard(db: Database, settings: Settings, staged: list[StagedFile]) -> None:
    """Remove what a failed upload created (unreferenced blobs only)."""
    if not any(item.blob.created for item in staged):
        return
    with db.session_scope(write=False) as session:
        discard_staged(session=session, settings=settings, staged=staged)


def csrf_checker(request: Request):
    """(already verified, check(token)) for a streamed form: bearer calls and the X-CSRF-Token header pass up front."""
    secret = request.app.state.settings.secret()
    cookie = request.cookies.get(CSRF_COOKIE)
    if request.state.auth != "cookie":
        return True, lambda token: True
    header = request.headers.get("x-csrf-token")
    return (header is not None and security.csrf_matches(secret, cookie, header),
            lambda token: security.csrf_matches(secret, cookie, token))


def package_input(form: UploadForm) -> service.PackageInput:
    return service.PackageInput(
        id=form.get("id"), title=form.get("title"), version=form.get("version"),
        product_versions=service.split_list(form.values("product_versions")),
        modules=service.split_list(form.values("modules")),
        ticket_ids=service.split_list(form.values("ticket_ids")),
        organizations=service.split_list(form.values("organizations")), notes=form.get("notes"),
        supersedes=form.get("supersedes"),
    )


async def receive_package_form(request: Request, *, user, session, settings: Settings, db: Database) -> UploadForm:
    """Stream a package's form in (fields and staged files), after checking the uploader's right."""
    policy.require(user, "package.manage")
    # Release the database (SQLite's write lock) while the body streams; the package is written after.
    await run_in_threadpool(session.commit)
    csrf_ok, check = csrf_checker(request)
    return await receive_form(request, settings=settings, db=db, csrf_ok=csrf_ok, check_csrf=check)


def create_from_form(form: UploadForm, *, user, session, settings: Settings) -> service.Package:
    return service.upload_package(session=session, settings=settings, actor=user, data=package_input(form),
                                  files=form.files, expected_sha256=service.split_list(form.values("sha256")))


async def create_from_upload(request: Request, *, user, session, settings: Settings, db: Database) -> service.Package:
    """The API's and the upload page's part: stream the files in, then hand them to ``service.upload_package``."""
    form = await receive_package_form(request, user=user, session=session, settings=settings, db=db)
    return await run_in_threadpool(lambda: create_from_form(form, user=user, session=session, settings=settings))

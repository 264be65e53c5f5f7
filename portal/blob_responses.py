"""One byte range of a stored blob as an HTTP response: package downloads and ticket attachments.

Under `portal serve` (portal/serving.py) a blob in the local store is handed to the server with ASGI's zero-copy
send and goes out with ``sendfile(2)``: no byte passes through Python. Otherwise (S3, or a server without the
extension) it is streamed in pieces: a piece the page cache holds is read on the event loop, one that would wait
for the disk or the network in a thread, so memory stays flat whatever the size and however many run at once.
The response knows afterwards how many bytes went out and whether the client stayed to the end, for the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import BinaryIO

import anyio
import anyio.lowlevel
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from portal import blobs
from portal.blobs import ByteRange

# ASGI's zero-copy send extension, offered by the server the portal runs under (portal/serving.py)
ZEROCOPY_SEND = "http.response.zerocopysend"
log = logging.getLogger("portal.blob_responses")


class BlobRangeResponse(Response):
    """Sends one byte range of a stored blob; ``on_finish(response, complete)`` runs when the stream ends."""

    def __init__(self, *, store: blobs.BlobStore, sha256: str, size: int, byte_range: ByteRange | None, head: bool,
                 headers: dict[str, str], on_finish: Callable[[BlobRangeResponse, bool], None] | None = None):
        self.store = store
        self.sha256 = sha256
        self.size = size
        self.range = byte_range or ByteRange(0, size - 1)
        self.partial = byte_range is not None
        self.head = head
        self.on_finish = on_finish
        self.bytes_sent = 0
        self.disconnected = False
        super().__init__(status_code=206 if self.partial else 200, media_type="application/octet-stream",
                         headers=headers)
        self.headers["content-length"] = str(self.range.length)
        if self.partial:
            self.headers["content-range"] = f"bytes {self.range.start}-{self.range.end}/{self.size}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        if self.head:
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            async with anyio.create_task_group() as tg:
                async def watch_disconnect() -> None:
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            # After the last byte the server reports the finished exchange as a disconnect too.
                            self.disconnected = self.bytes_sent < self.range.length
                            tg.cancel_scope.cancel()
                            return

                tg.start_soon(watch_disconnect)
                await self._stream(send, zerocopy=ZEROCOPY_SEND in (scope.get("extensions") or {}))
                tg.cancel_scope.cancel()
        finally:
            if self.on_finish is not None:
                complete = not self.disconnected and self.bytes_sent == self.range.length
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self.on_finish, self, complete)

    async def _stream(self, send: Send, *, zerocopy: bool) -> None:
        try:
            reader: blobs.RangeReader | None = await anyio.to_thread.run_sync(
                self.store.open_range, self.sha256, self.range.start, self.range.end)
        except Exception:  # the stored file went since it was checked: the download stays incomplete
            log.exception("opening blob %s failed", self.sha256)
            reader = None
        try:
            region = reader.region() if zerocopy and reader is not None else None
            if region is not None:
                await self._send_region(send, *region)
                return
            remaining = self.range.length
            while remaining > 0 and reader is not None:
                try:
                    # A piece already in memory (the page cache) is read here; one per thread switch made the
                    # switches cost more CPU than the bytes (docs/deployment.md, downloads benchmark).
                    chunk = reader.read_ready()
                    if chunk is None:
                        chunk = await anyio.to_thread.run_sync(reader.read)
                    else:
                        # The server's send() returns at once once the client is gone (and while its socket takes
                        # everything): the loop must still give way, to other requests and to watch_disconnect.
                        await anyio.lowlevel.checkpoint()
                except Exception:  # the store failed mid-stream: stop short, the download stays incomplete
                    log.exception("reading blob %s failed after %d bytes", self.sha256, self.bytes_sent)
                    chunk = b""
                if not chunk:  # the stored bytes ended early: stop short, the download stays incomplete
                    break
                chunk = chunk[:remaining]
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})
                self.bytes_sent += len(chunk)
            if remaining > 0:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if reader is not None:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(reader.close)

    async def _send_region(self, send: Send, file: BinaryIO, offset: int, count: int) -> None:
        """The server sends the bytes from the file itself (``portal.serving``: sendfile, no copy through Python)."""
        try:
            await send({"type": ZEROCOPY_SEND, "file": file, "offset": offset, "count": count, "more_body": False})
        except ConnectionError:  # the client went mid-file; the server closed the connection
            pass
        # The file's position is how far the server got, also when it stopped short (ASGI's extension says so).
        self.bytes_sent = file.tell() - offset

"""The HTTP protocol the portal runs under: uvicorn's h11 protocol with the ASGI zero-copy send extension.

Without it a download through the portal (``portal.blob_responses``: packages, attachments) reads every piece of
the file into Python and writes it to the socket: the kernel copies each byte twice and the server's one event
loop does it — the downloads benchmark saw 70 % of the server's CPU in those copies and 0.46–0.77× of nginx's
throughput. With ``http.response.zerocopysend`` (ASGI's extension,
https://asgi.readthedocs.io/en/latest/extensions.html) the application hands the server an open file and a byte
range, and the server sends it with ``sendfile(2)`` (``loop.sendfile``), as nginx does. uvicorn does not offer the
extension itself; its ``--http`` option takes a protocol class, so `portal serve` names this one (as do the tests'
server and the downloads benchmark).

The application still decides everything — who may download, which range, what is logged; only the copying moves
into the kernel. Over TLS (uvicorn's own ``--ssl-*``) ``loop.sendfile`` falls back to reading and writing, which is
what the portal did before; behind the recommended proxy the portal speaks plain HTTP.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

from portal.blob_responses import ZEROCOPY_SEND


class ZeroCopyH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose requests offer ``http.response.zerocopysend``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = _ZeroCopyApp(self.app)  # the protocol hands every request's cycle self.app


class _ZeroCopyApp:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        cycle = getattr(send, "__self__", None)  # uvicorn passes the request cycle's bound send
        if scope["type"] != "http" or not isinstance(cycle, RequestResponseCycle):
            await self.app(scope, receive, send)
            return
        scope["extensions"] = {**(scope.get("extensions") or {}), ZEROCOPY_SEND: {}}

        async def send_with_zerocopy(message: dict) -> None:
            if message["type"] == ZEROCOPY_SEND:
                await _send_file(cycle, message)
            else:
                await send(message)

        await self.app(scope, receive, send_with_zerocopy)


class _FileBytes:
    """Stands for ``count`` bytes of a file in h11's framing: h11 counts them against Content-Length and passes
    the object through (``send_with_data_passthrough``) where it would write the bytes."""

    def __init__(self, count: int):
        self.count = count

    def __len__(self) -> int:
        return self.count


async def _send_file(cycle: RequestResponseCycle, message: dict) -> None:
    """Send ``count`` bytes of ``file`` from ``offset`` as (part of) the response body.

    As ASGI says for this extension, the file's position afterwards tells how much was sent, also when it raises
    (``loop.sendfile`` keeps it so). A connection lost mid-file raises ``ConnectionError`` to the application and
    the connection is closed: the response cannot be finished any more.
    """
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    if cycle.disconnected:
        raise ConnectionResetError("the client went away before the file was sent")
    if not cycle.response_started or cycle.response_complete:
        raise RuntimeError(f"Unexpected ASGI message {ZEROCOPY_SEND!r} outside a response body.")
    file, more_body = message["file"], message.get("more_body", False)
    offset = message.get("offset")
    if offset is None:
        offset = file.tell()
    count = message.get("count")
    if count is None:
        count = file.seek(0, 2) - offset
    file.seek(offset)
    if cycle.scope["method"] != "HEAD" and count > 0:
        pieces = cycle.conn.send_with_data_passthrough(h11.Data(data=_FileBytes(count)))  # type: ignore[arg-type]
        try:
            for piece in pieces or []:
                if isinstance(piece, _FileBytes):
                    await asyncio.get_running_loop().sendfile(cycle.transport, file, offset, count)
                else:
                    cycle.transport.write(piece)  # a chunk's size line around the file's bytes
        except (OSError, RuntimeError) as exc:  # the peer went (RuntimeError: the transport was already closing)
            cycle.disconnected = True
            cycle.transport.close()
            raise ConnectionResetError(f"the client went away during the file: {exc}") from exc
    if not more_body:
        await cycle.send({"type": "http.response.body", "body": b"", "more_body": False})

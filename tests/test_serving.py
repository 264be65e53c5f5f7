"""The protocol `portal serve` runs (portal/serving.py): a file region handed to the server with ASGI's zero-copy
send arrives byte for byte over real HTTP, in every framing h11 uses, and a client that goes mid-file is told."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from portal.blob_responses import ZEROCOPY_SEND
from tests.conftest import LiveServer

DATA = bytes(range(256)) * 65536  # 16 MiB: more than loopback's socket buffers absorb, so a reader can stall it


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "payload.bin"
    path.write_bytes(DATA)
    return path


class FileApp:
    """Answers /region?offset=&count= (Content-Length), /chunked (no length: chunked framing), /mixed (a file
    region between two in-memory pieces) and /big (the file, sent slowly enough to be cut off)."""

    def __init__(self, path):
        self.path = path
        self.outcomes: list[tuple[str, int]] = []  # (what the app saw, bytes the file's position says were sent)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                event = (await receive())["type"]
                await send({"type": f"{event}.complete"})
                if event == "lifespan.shutdown":
                    return
        if ZEROCOPY_SEND not in scope.get("extensions", {}):
            await send({"type": "http.response.start", "status": 501, "headers": []})
            await send({"type": "http.response.body", "body": b"no zero-copy send"})
            return
        query = dict(part.split("=") for part in scope["query_string"].decode().split("&") if part)
        offset, count = int(query.get("offset", 0)), int(query.get("count", len(DATA)))
        with open(self.path, "rb") as file:
            if scope["path"] == "/chunked":
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": ZEROCOPY_SEND, "file": file, "offset": offset, "count": count})
            elif scope["path"] == "/mixed":
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-length", str(count + 10).encode())]})
                await send({"type": "http.response.body", "body": b"<<<<<", "more_body": True})
                await send({"type": ZEROCOPY_SEND, "file": file, "offset": offset, "count": count,
                            "more_body": True})
                await send({"type": "http.response.body", "body": b">>>>>"})
            else:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-length", str(count).encode())]})
                try:
                    await send({"type": ZEROCOPY_SEND, "file": file, "offset": offset, "count": count})
                    outcome = "sent"
                except ConnectionError:
                    outcome = "client gone"
                self.outcomes.append((outcome, file.tell() - offset))


@pytest.fixture
def server(data_file):
    app = FileApp(data_file)
    live = LiveServer(app)
    live.app = app
    live.start()
    yield live
    live.stop()


def test_a_region_arrives_byte_for_byte_and_the_connection_is_kept(server):
    with httpx.Client(base_url=server.url) as client:
        whole = client.get("/region")
        part = client.get("/region", params={"offset": 1000, "count": 70_000})
        tail = client.get("/region", params={"offset": len(DATA) - 5, "count": 5})
    assert whole.content == DATA and whole.headers["content-length"] == str(len(DATA))
    assert part.content == DATA[1000:71_000]
    assert tail.content == DATA[-5:]
    assert server.app.outcomes == [("sent", len(DATA)), ("sent", 70_000), ("sent", 5)]


def test_head_sends_no_body(server):
    r = httpx.head(f"{server.url}/region", params={"count": 1234})
    assert r.status_code == 200 and r.headers["content-length"] == "1234" and r.content == b""


def test_chunked_and_mixed_framings(server):
    with httpx.Client(base_url=server.url) as client:
        chunked = client.get("/chunked", params={"offset": 3, "count": 100_000})
        mixed = client.get("/mixed", params={"offset": 7, "count": 300_000})
        after = client.get("/region", params={"count": 10})  # the same connection still frames correctly
    assert chunked.headers.get("transfer-encoding") == "chunked" and chunked.content == DATA[3:100_003]
    assert mixed.content == b"<<<<<" + DATA[7:300_007] + b">>>>>"
    assert after.content == DATA[:10]


def test_a_client_gone_mid_file_is_told_how_far_it_got(server):
    big = len(DATA)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /region HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset on close
    deadline = time.monotonic() + 10
    while not server.app.outcomes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.app.outcomes and server.app.outcomes[0][0] == "client gone"
    assert 0 < server.app.outcomes[0][1] < big
    assert httpx.get(f"{server.url}/region", params={"count": 10}).content == DATA[:10]  # the server goes on


def test_plain_uvicorn_does_not_offer_it(data_file):
    live = LiveServer(FileApp(data_file), http="h11")
    live.start()
    try:
        r = httpx.get(f"{live.url}/region")
    finally:
        live.stop()
    assert r.status_code == 501

"""Finding 6: out-of-range input answers a 4xx a person can act on, never a 500, and keeps the connection."""

from __future__ import annotations

import socket

import pytest

from portal.knowledge import site

HUGE = str(2**64 + 1)  # beyond any 64-bit column


def _russian(text: str) -> bool:
    return any("а" <= c.lower() <= "я" for c in text)


def _assert_handled(r, status: int | tuple = 422):
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.request.method, r.request.url, r.status_code, r.text)
    assert _russian(r.json()["detail"]), r.text


ID_ROUTES = [
    ("DELETE", "/api/v1/tokens/{n}", "ivanova"),
    ("POST", "/api/v1/deliveries/{n}/acknowledge", "ivanova"),
    ("POST", "/api/v1/deliveries/{n}/confirm", "support"),
    ("POST", "/api/v1/outbox/{n}/retry", "admin"),
    ("POST", "/api/v1/intake/{n}/dismiss", "support"),
    ("POST", "/api/v1/intake/{n}/assign", "support"),
    ("GET", "/api/v1/tickets/{ticket}/attachments/{n}", "ivanova"),
    ("GET", "/api/v1/audit?offset={n}", "admin"),
    ("GET", "/api/v1/outbox?offset={n}", "admin"),
]


def test_integers_beyond_64_bits_answer_422(api, make, world):
    people = {"ivanova": world.ivanova, "support": world.support, "admin": make.user("admin")}
    body = {"reason": "спам", "organization": "romashka", "note": "x"}
    for number in (HUGE, "9" * 5000):
        for method, url, who in ID_ROUTES:
            r = api.client.request(method, url.format(n=number, ticket=world.t_romashka),
                                   headers=api.headers(people[who]), json=body if method == "POST" else None)
            _assert_handled(r)


def _api_routes(routes):
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI keeps an included router whole
            yield from _api_routes(route.original_router.routes)


def test_every_integer_parameter_is_bounded(app):
    """No route (API or page) takes an unbounded integer from its path or query: the driver would overflow."""
    checked, unbounded = 0, []
    for route in _api_routes(app.routes):
        for param in route.dependant.path_params + route.dependant.query_params:
            if param.field_info.annotation is not int:
                continue
            checked += 1
            limits = {type(m).__name__ for m in param.field_info.metadata}
            if not limits & {"Le", "Lt"} and param.name != "created":  # created: a flag, never stored
                unbounded.append(f"{route.path} {param.name}")
    assert checked >= 15
    assert unbounded == []


def test_attachment_and_delivery_ids_at_the_limit_are_plain_404(api, world, published):
    # The largest ID both databases store (PostgreSQL's INTEGER) is an ordinary missing row; one more is a 422.
    r = api.get(world.ivanova, f"/api/v1/tickets/{world.t_romashka}/attachments/{2**31 - 1}")
    _assert_handled(r, 404)
    r = api.post(world.ivanova, f"/api/v1/deliveries/{2**31 - 1}/acknowledge", json={})
    _assert_handled(r, 404)
    r = api.get(world.ivanova, f"/api/v1/tickets/{world.t_romashka}/attachments/{2**31}")
    _assert_handled(r, 422)


@pytest.mark.parametrize("since, until", [("0001-01-01", "9999-12-31"), ("2026-01-01", "9999-12-31"),
                                          ("0001-01-01", "2026-01-01"), ("1000-01-01T00:00", "2026-01-01")])
def test_sla_report_far_dates_are_named_not_500(api, world, since, until):
    r = api.get(world.support, f"/api/v1/tickets/sla-report?since={since}&until={until}")
    _assert_handled(r)
    assert "год от" in r.json()["detail"]
    page = api.client.get(f"/tickets/sla?since={since}&until={until}",
                          headers={**api.headers(world.support), "Accept": "text/html"})
    assert page.status_code == 422 and "год от" in page.text


def test_eta_and_audit_far_dates_are_named_not_500(api, make, world):
    r = api.post(world.developer, f"/api/v1/tickets/{world.t_romashka}/eta", json={"eta": "9999-12-31"})
    _assert_handled(r)
    admin = make.user("admin")
    r = api.get(admin, "/api/v1/audit?since=0001-01-01T00:00:00")
    _assert_handled(r)


def test_range_with_thousands_of_digits_is_answered(api, world, published):
    url = f"/api/v1/packages/{published}/files/primoart-5.2.1-hf3.tar.gz"

    def get(range_header):
        return api.client.get(url, headers={**api.headers(world.ivanova), "Range": range_header})

    r = get("bytes=" + "0" * 5000 + "-1")
    assert r.status_code == 206 and r.content == b"fi", r.text
    _assert_handled(get("bytes=" + "9" * 5000 + "-"), 416)
    r = get("bytes=-" + "9" * 5000)
    assert r.status_code == 206 and len(r.content) == 1800


def test_kb_path_with_nul_is_not_found(api, settings, world):
    for edition in site.EDITIONS:
        root = site.edition_dir(settings, edition)
        root.mkdir(parents=True, exist_ok=True)
        (root / "index.html").write_text("<html><body>kb</body></html>")
    for who in (world.ivanova, world.support):
        r = api.get(who, "/kb/%00")
        assert r.status_code == 404, r.text
        r = api.get(who, "/kb/a%00b/index.html")
        assert r.status_code == 404, r.text


def _two_requests_on_one_connection(port: int, first: bytes) -> list[bytes]:
    """Send ``first``, read its whole answer, then ask /healthz on the same socket; both answers' status lines."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(first)
        answers = [_read_response(sock)]
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        answers.append(_read_response(sock))
        return answers


def _read_response(sock) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data.split(b"\r\n", 1)[0]
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head.split(b"\r\n", 1)[0]


def test_errors_keep_the_connection_alive(app, live_server, api, world):
    """A handled error (422, 404) and even an unexpected 500 answer without dropping keep-alive."""
    def boom():
        raise RuntimeError("a defect the tests plant")

    app.add_api_route("/api/v1/_test_boom", boom, methods=["GET"])
    token = api.token(world.ivanova)
    cases = [
        f"DELETE /api/v1/tokens/{HUGE} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n",
        f"GET /api/v1/packages/nope HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\r\n",
        "GET /api/v1/_test_boom HTTP/1.1\r\nHost: t\r\n\r\n",
    ]
    expected = [b"422", b"404", b"500"]
    for request, status in zip(cases, expected, strict=True):
        first, second = _two_requests_on_one_connection(live_server.port, request.encode())
        assert status in first, first
        assert b"200" in second, (request, second)


def test_unexpected_error_answers_russian_json_and_error_page(app, client):
    def boom():
        raise RuntimeError("a defect the tests plant")

    app.add_api_route("/_test_boom", boom, methods=["GET"])
    r = client.get("/_test_boom")
    assert r.status_code == 500 and "Внутренняя ошибка" in r.json()["detail"]
    assert r.headers.get("connection") != "close"

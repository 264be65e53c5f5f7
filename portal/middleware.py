"""ASGI middleware: request-body limits and security headers."""

from __future__ import annotations

import json
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal import i18n


class BodySizeLimit:
    """Refuse request bodies over a limit with 413, by Content-Length up front or while streaming.

    FastAPI has no limit of its own. Routes listed in ``upload_prefixes`` (for POST/PUT) get the
    larger upload limit; every other route the ordinary one.
    """

    def __init__(self, app: ASGIApp, *, default_limit: int, upload_limit: int, upload_prefixes: tuple[str, ...]):
        self.app = app
        self.default_limit = default_limit
        self.upload_limit = upload_limit
        self.upload_prefixes = upload_prefixes

    def limit_for(self, scope: Scope) -> int:
        path = scope.get("path", "")
        if scope.get("method") in ("POST", "PUT") and path.startswith(self.upload_prefixes):
            return self.upload_limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _reject(send, 400, i18n.message("error.content_length"), headers)
                return
            if size > limit:
                await _reject(send, 413, _too_large(limit), headers)
                return
        received = 0
        response_started = False
        rejected = False

        async def limited_receive() -> Message:
            # Raising here would be turned into a 400 by FastAPI's body parsing; instead answer 413
            # ourselves and tell the app the client went away, so it stops reading.
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not response_started:
                        await _reject(send, 413, _too_large(limit), headers)
                    rejected = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if rejected:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not rejected:
                raise


def _too_large(limit: int) -> i18n.Message:
    return i18n.message("error.body_too_large", limit=_human(limit))


def _human(n: float) -> i18n.Message:
    for unit in ("bytes", "kib", "mib", "gib"):
        if n < 1024 or unit == "gib":
            return i18n.message(f"error.size_{unit}", n=f"{n:g}" if unit == "bytes" else f"{n:.0f}")
        n /= 1024
    raise AssertionError("unreachable")


def _asker_language(headers: dict[bytes, bytes]) -> str:
    """The language chosen by the cookie, else Accept-Language (no session is read this early)."""
    cookies = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
    chosen = cookies["lang"].value if "lang" in cookies else None
    return i18n.pick_language(chosen, headers.get(b"accept-language", b"").decode("latin-1") or None)


async def _reject(send: Send, status: int, detail: i18n.Message, headers: dict[bytes, bytes]) -> None:
    body = json.dumps({"detail": detail.in_language(_asker_language(headers))}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# The portal's pages: scripts and styles only from our own files (no inline script, handler or style
# attribute runs), so markup that slipped past the sanitiser still cannot execute.
PAGE_CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'; img-src 'self' data:; style-src 'self'")
# Swagger UI (/api/docs) sets style attributes from its own bundle; its scripts are still our files only.
API_DOCS_CSP = PAGE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class SecurityHeaders:
    """Headers every response carries; a response that sets its own CSP (the /kb/ site) keeps it."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"content-security-policy", PAGE_CSP.encode()),
    ]

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k, v) for k, v in self.HEADERS if k not in existing]
            await send(message)

        await self.app(scope, receive, send_with_headers)

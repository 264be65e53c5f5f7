"""The application factory: ``create_app(settings)`` wires routers, middleware, templates and error handling."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError as DBAPIDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from portal import __version__, content, deps, i18n, migrate, openapi, web, wiring
from portal.config import Settings
from portal.db import Database
from portal.errors import PortalError, Unauthorized
from portal.middleware import BodySizeLimit, SecurityHeaders
from portal.validation import describe_validation_errors

log = logging.getLogger("portal")

# Routes that take file uploads get the larger body limit.
UPLOAD_PREFIXES = ("/api/v1/packages", "/packages/", "/api/v1/tickets/", "/tickets/")


def create_app(settings: Settings | None = None, *, check_schema: bool = True) -> FastAPI:
    wiring.wire()  # the domains' hooks (close guards, listeners, sections, jobs), before anything runs
    settings = settings or Settings()
    db = Database(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # Sync handlers and dependencies run in AnyIO's default thread pool; its size is the number of
        # requests handled at once (the database pool is sized to match, see portal/db.py).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        if check_schema:
            migrate.check_schema(db)
        from portal import housekeeping, rendering

        rendering.warm_up()  # the render workers start with the server, not inside the first request's deadline

        # Leftovers of a killed process: temporary upload files nobody holds, operations cut off between git and
        # the database. Run in a thread: reconciling may wait for the content repository's lock.
        await anyio.to_thread.run_sync(housekeeping.on_start, settings, db)
        scheduler = None
        if settings.run_jobs:
            from portal.jobs import Scheduler

            scheduler = Scheduler(settings, db)
            scheduler.start_thread()
        yield
        if scheduler is not None:
            scheduler.stop()
        db.dispose()

    app = FastAPI(
        title="PrimoART support portal",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.templates = web.make_templates(settings)

    _mount_static(app)
    _install_error_handlers(app)
    _include_routers(app)
    openapi.install(app)
    deps.end_transactions_with_handlers(app)

    app.add_middleware(
        BodySizeLimit,
        default_limit=settings.max_body_bytes,
        upload_limit=max(settings.max_upload_bytes, settings.max_attachment_bytes),
        upload_prefixes=UPLOAD_PREFIXES,
    )
    app.add_middleware(SecurityHeaders)
    if settings.content_remote:
        app.add_middleware(_FollowContentRemote, settings=settings)
    return app


API_DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>PrimoART support portal — API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css">
<link rel="icon" href="/static/swagger/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


def _mount_static(app: FastAPI) -> None:
    import fastapi_offline

    # Swagger UI 5 from fastapi-offline's package data (swagger-ui-bundle ships 3.20, which refuses the
    # OpenAPI 3.1 document FastAPI writes). The more specific mount first: Starlette matches mounts in order.
    swagger = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static/swagger", StaticFiles(directory=str(swagger)), name="swagger")
    app.mount("/static", StaticFiles(directory=str(web.TEMPLATES.parent / "static")), name="static")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        # FastAPI's get_swagger_ui_html starts Swagger UI with an inline script; ours is a static file.
        from portal.middleware import API_DOCS_CSP

        return HTMLResponse(API_DOCS_HTML, headers={"content-security-policy": API_DOCS_CSP})


def _include_routers(app: FastAPI) -> None:
    from portal import health
    from portal.accounts import api as accounts_api
    from portal.accounts import pages as accounts_pages
    from portal.dashboard import pages as dashboard_pages
    from portal.knowledge import api as knowledge_api
    from portal.knowledge import pages as knowledge_pages
    from portal.notify import api as notify_api
    from portal.notify import pages as notify_pages
    from portal.releases import api as releases_api
    from portal.releases import notice_pages as releases_notice_pages
    from portal.releases import pages as releases_pages
    from portal.releases import receipt_pages as releases_receipt_pages
    from portal.search import api as search_api
    from portal.search import pages as search_pages
    from portal.search.similar import pages as similar_pages
    from portal.tickets import api as tickets_api
    from portal.tickets import merge_pages as tickets_merge_pages
    from portal.tickets import pages as tickets_pages

    app.include_router(health.router)
    app.include_router(accounts_api.router)
    app.include_router(accounts_pages.router)
    app.include_router(dashboard_pages.router)
    app.include_router(notify_api.router)
    app.include_router(notify_pages.router)
    app.include_router(search_api.router)
    app.include_router(search_pages.router)
    app.include_router(similar_pages.router)
    app.include_router(tickets_api.router)
    app.include_router(tickets_pages.router)
    app.include_router(tickets_merge_pages.router)
    app.include_router(tickets_merge_pages.api_router)
    app.include_router(knowledge_api.router)
    app.include_router(knowledge_pages.router)
    app.include_router(releases_api.upload_router)
    app.include_router(releases_api.router)
    app.include_router(releases_pages.upload_router)
    app.include_router(releases_pages.router)
    app.include_router(releases_receipt_pages.router)
    app.include_router(releases_receipt_pages.api_router)
    app.include_router(releases_notice_pages.router)
    app.include_router(releases_notice_pages.api_router)


ERROR_TITLES = (400, 401, 403, 404, 405, 409, 413, 416, 422, 429, 500, 503)


def wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _error_response(request: Request, status: int, body: dict, headers: dict | None = None):
    body = i18n.in_language(body, web.language(request))  # the message in the asker's language
    if wants_html(request):
        if status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        title_key = f"error.http_{status}" if status in ERROR_TITLES else "error.title"
        return web.render(request, "errors/error.html", {"status": status, "detail": body.get("detail"),
                                                          "title_key": title_key,
                                                          "errors": body.get("errors")},
                          status_code=status, headers=headers)
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PortalError)
    async def portal_error(request: Request, exc: PortalError):
        return _error_response(request, exc.status_code, exc.payload(), exc.headers)  # worded for the asker there

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        status, body = describe_validation_errors(exc.errors())
        return _error_response(request, status, body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail
        if exc.status_code == 404 and detail == "Not Found":
            detail = i18n.message("error.page_not_found")
        elif exc.status_code == 405:
            detail = i18n.message("error.method_not_allowed")
        return _error_response(request, exc.status_code, {"detail": detail}, getattr(exc, "headers", None))

    @app.exception_handler(DBAPIDataError)
    async def data_error(request: Request, exc: DBAPIDataError):
        # The database refused a value the declared checks let through (a NUL character in text on
        # PostgreSQL, a number out of the column's range): the input's fault, so a 422 that says so.
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        return _error_response(request, 422, {"detail": i18n.message("error.value_not_storable"), "errors": []})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        return _unexpected_response(request, exc)

    app.add_middleware(_AnswerUnexpected)


def _unexpected_response(request: Request, exc: Exception):
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, {"detail": i18n.message("error.internal")})


class _FollowContentRemote:
    """Several nodes: before a request is answered from git, this node catches up with the shared content remote
    when another node pushed (``content.follow``: a one-row read at most once a second, git only when behind)."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not scope["path"].startswith("/static/"):
            try:
                await anyio.to_thread.run_sync(content.follow, self.settings)
            except Exception:  # the local copy still answers; the next request tries again
                log.exception("could not catch up with the content remote %s", self.settings.content_remote)
        await self.app(scope, receive, send)


class _AnswerUnexpected:
    """Answer an unhandled exception with the 500 page here, inside the stack, and let it go no further.

    Starlette's outermost handler re-raises after answering, and the server then drops the keep-alive
    connection; a client that sent a bad request should not also lose its connection. An exception after
    the response has started cannot be answered any more and still goes up.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = _unexpected_response(Request(scope, receive), exc)
            await response(scope, receive, send)


__all__ = ["create_app", "Unauthorized"]

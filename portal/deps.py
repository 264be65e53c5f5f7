"""Request dependencies: the database session, settings, the current user, CSRF."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portal import i18n
from portal.accounts import security
from portal.accounts import service as accounts
from portal.accounts.models import User
from portal.config import Settings
from portal.db import Database, commit_then_read
from portal.errors import Forbidden, Unauthorized

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "portal_session"
CSRF_COOKIE = "portal_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    return request.app.state.db


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: unsafe methods write (and commit before the response), safe ones read.

    The write transaction begins at the handler's first statement, not here: authentication reads in a
    session of its own (``optional_user``), so a handler that renders, hashes or verifies a password before
    it touches the database holds no lock meanwhile. ``end_transactions_with_handlers`` commits when the
    handler returns, before the response is serialised.
    """
    db: Database = request.app.state.db
    write = request.method not in SAFE_METHODS
    session = db.session(write=write)
    try:
        yield session
        if session.in_transaction():
            session.commit()
    finally:
        # close() rolls back whatever was not committed without expiring loaded objects, so an
        # error page can still show the signed-in user.
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _lookup_user(request: Request, session: Session) -> User | None:
    token = _bearer(request)
    user: User | None
    if token is not None:
        user = accounts.user_for_token(session=session, token=token)
        request.state.auth = "bearer"
    else:
        user = accounts.user_for_session(session=session, token=request.cookies.get(SESSION_COOKIE))
        request.state.auth = "cookie" if user else None
    return user


def optional_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in user, from a bearer token or the session cookie; None when anonymous.

    Looked up in a read transaction that ends here: on an unsafe request the lookup must not begin the
    request's write transaction (on SQLite that takes the write lock for the whole handler), and on any
    request no connection stays checked out while the handler waits for a worker thread.
    """
    db: Database = request.app.state.db
    if session.info.get("portal_write"):
        reader = db.session(write=False)
        try:
            user = _lookup_user(request, reader)
        finally:
            reader.close()  # unlike rollback(), close() leaves the loaded attributes in place
        if user is not None:
            # Into the request's session without a query: its lazy loads then run in the handler's transaction.
            user = session.merge(user, load=False)
    else:
        user = _lookup_user(request, session)
        session.commit()  # ends the read transaction; loaded objects stay (expire_on_commit=False)
    request.state.user = user
    return user


def required_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized()
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(required_user)]


def end_transactions_with_handlers(app) -> None:
    """Commit each synchronous handler's session in the handler's own worker thread, as it returns.

    FastAPI validates a handler's return value in another call to the thread pool and only then runs the
    dependency's teardown. A write transaction left open across that hop holds the write gate while it waits
    for a free thread — and when every thread is busy waiting for the gate, nothing moves until the wait
    times out. Committing here, before the hop, means the gate's holder never needs another thread.

    The routers' endpoints are wrapped in place (once; the routers are module-level), before the first
    request builds the included routes from them.
    """
    from fastapi.routing import APIRoute

    seen: set[int] = set()
    pending = list(app.router.routes)
    while pending:
        route = pending.pop()
        router = getattr(route, "original_router", None)  # FastAPI's included router
        if router is not None:
            if id(router) not in seen:
                seen.add(id(router))
                pending.extend(router.routes)
            continue
        if isinstance(route, APIRoute) and not getattr(route.endpoint, "_portal_commits", False):
            if not inspect.iscoroutinefunction(inspect.unwrap(route.endpoint)):
                # An async handler runs its database work in threads of its own choosing.
                route.endpoint = _commits_on_return(route.endpoint)


def _commits_on_return(call):
    @functools.wraps(call)
    def endpoint(*args, **kwargs):
        result = call(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session) and value.in_transaction():
                commit_then_read(value)
        return result

    endpoint._portal_commits = True
    return endpoint


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def verify_csrf(request: Request) -> None:
    """Every state-changing form, and every unsafe request carrying the session cookie, needs the CSRF token.

    The token is an HMAC of a random cookie with the secret key (double submit), sent as the
    ``csrf_token`` form field or the ``X-CSRF-Token`` header. Bearer-token API calls carry no
    cookie credentials and need none.
    """
    if request.method in SAFE_METHODS or _bearer(request) is not None:
        return
    content_type = request.headers.get("content-type", "")
    is_form = content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data", "text/plain"))
    if not is_form and SESSION_COOKIE not in request.cookies:
        # JSON from a non-browser client without cookie credentials: nothing a forged page could ride on
        # (a cross-site page cannot send application/json without a CORS preflight we never allow).
        return
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None:
        if is_form and not content_type.startswith("text/plain"):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    secret = request.app.state.settings.secret()
    if not security.csrf_matches(secret, request.cookies.get(CSRF_COOKIE), submitted):
        raise Forbidden(i18n.message("error.csrf"))

"""Request dependencies: the database session, settings, the current user, CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from portal.accounts import security
from portal.accounts import service as accounts
from portal.accounts.models import User
from portal.config import Settings
from portal.db import Database
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
    """One unit of work per request: unsafe methods write (and commit before the response), safe ones read."""
    db: Database = request.app.state.db
    write = request.method not in SAFE_METHODS
    session = db.session(write=write)
    try:
        yield session
        if write:
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


def optional_user(request: Request, session: SessionDep) -> User | None:
    """The signed-in user, from a bearer token or the session cookie; None when anonymous."""
    token = _bearer(request)
    if token is not None:
        user = accounts.user_for_token(session=session, token=token)
        request.state.auth = "bearer"
    else:
        user = accounts.user_for_session(session=session, token=request.cookies.get(SESSION_COOKIE))
        request.state.auth = "cookie" if user else None
    request.state.user = user
    return user


def required_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized()
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(required_user)]


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
        raise Forbidden(
            "Проверка CSRF не пройдена: форма устарела или отправлена с другого сайта. "
            "Обновите страницу и отправьте форму ещё раз."
        )

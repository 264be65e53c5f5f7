"""A login attempt as its own transaction: failure counters are committed even when the attempt fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from portal import i18n
from portal.accounts import service
from portal.accounts.models import User
from portal.config import Settings
from portal.db import Database
from portal.errors import PortalError, Unauthorized

T = TypeVar("T")


def attempt(*, db: Database, settings: Settings, username: str, password: str, ip: str | None,
            on_success: Callable[[Session, User], T]) -> T:
    """Authenticate, slowing repeated failures; on success run ``on_success`` in the same transaction.

    The slow parts — the slowdown after failures and Argon2 — run before the write transaction begins, so a
    burst of logins does not keep the database's write lock while it hashes; the transaction only records
    the outcome (counters, audit, the new session or token).
    """
    for _ in range(3):
        with db.session_scope(write=False) as session:
            state = service.throttle_state(session=session, settings=settings, username=username, ip=ip)
            password_hash = service.login_facts(session=session, settings=settings, username=username, ip=ip)
        time.sleep(service.slowdown_seconds(settings=settings, failures=state.failures))
        check = service.verify(username=username, ip=ip, password_hash=password_hash, password=password)
        session = db.session(write=True)
        try:
            try:
                user = service.record_login(session=session, settings=settings, check=check)
            except service.PasswordChanged:
                session.rollback()
                continue  # the password was changed meanwhile: verify against the new one
            except PortalError:
                session.commit()  # keep the failure count and the audit entry
                raise
            result = on_success(session, user)
            session.commit()
            return result
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
    raise Unauthorized(i18n.message("error.password_changed"))

"""A login attempt as its own transaction: failure counters are committed even when the attempt fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from portal.accounts import service
from portal.accounts.models import User
from portal.config import Settings
from portal.db import Database
from portal.errors import PortalError

T = TypeVar("T")


def attempt(*, db: Database, settings: Settings, username: str, password: str, ip: str | None,
            on_success: Callable[[Session, User], T]) -> T:
    """Authenticate, slowing repeated failures; on success run ``on_success`` in the same transaction."""
    with db.session_scope(write=False) as session:
        state = service.throttle_state(session=session, settings=settings, username=username, ip=ip)
    if not state.locked_until:
        time.sleep(service.slowdown_seconds(settings=settings, failures=state.failures))
    session = db.session(write=True)
    try:
        try:
            user = service.authenticate(session=session, settings=settings, username=username,
                                        password=password, ip=ip)
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

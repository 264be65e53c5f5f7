"""Housekeeping of accounts: expired sessions, tokens and throttle counters leave the database."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, or_

from portal.accounts.models import ApiToken, LoginThrottle, WebSession
from portal.i18n import message
from portal.jobs import Job, JobContext

KEEP_REVOKED_TOKENS = dt.timedelta(days=30)


def _deleted(result: Result[Any]) -> int:
    # A DELETE answers a CursorResult, which knows its row count; Session.execute is typed for any statement.
    return cast(CursorResult[Any], result).rowcount


def purge_expired(ctx: JobContext) -> str:
    now = ctx.now
    with ctx.db.session_scope() as session:
        sessions = _deleted(session.execute(delete(WebSession).where(WebSession.expires_at <= now)))
        tokens = _deleted(session.execute(delete(ApiToken).where(
            ApiToken.kind == "login",
            or_(ApiToken.expires_at <= now - KEEP_REVOKED_TOKENS, ApiToken.revoked_at <= now - KEEP_REVOKED_TOKENS),
        )))
        window = dt.timedelta(minutes=ctx.settings.login_lockout_minutes)
        throttles = _deleted(session.execute(delete(LoginThrottle).where(
            LoginThrottle.window_start <= now - window,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )))
    return message("job_report.purged", sessions=sessions, tokens=tokens, throttles=throttles)


# Added to the scheduler's registry by portal.wiring.
JOBS = (
    Job("accounts.purge", run=purge_expired, every=dt.timedelta(hours=1),
        description="Remove expired sessions and tokens"),
)

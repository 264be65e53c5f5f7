"""How many searches one address may ask without signing in (``PORTAL_ANONYMOUS_SEARCH_PER_MINUTE``).

The counter lives where the login throttle keeps its own: a row of ``login_throttle`` in the database every node
shares (key ``search:<address>``: the count in ``failures``, the minute it counts in ``window_start``), so a reader
sent to another node by the proxy is still counted once, and ``accounts.purge`` removes the rows of past minutes.
One upsert a search — the row is read and moved in the same statement, so two nodes counting at once never lose a
request. The address is the request's client: behind the proxy, ``portal serve --proxy-headers`` makes it the
reader's (``X-Forwarded-For``), not the proxy's.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite

from portal.accounts.models import LoginThrottle
from portal.config import Settings
from portal.db import Database, utcnow
from portal.errors import TooManyRequests
from portal.i18n import message

log = logging.getLogger("portal.search")
WINDOW = dt.timedelta(minutes=1)
KEY_PREFIX = "search:"


def count_anonymous(*, db: Database, settings: Settings, address: str, now: dt.datetime | None = None) -> int:
    """Count one anonymous search from ``address`` and return how many it has asked this minute; 429 with
    ``Retry-After`` (seconds until the minute ends) once it has asked more than the setting allows."""
    now = now or utcnow()
    limit = settings.anonymous_search_per_minute
    key = KEY_PREFIX + (address or "unknown")
    cutoff = now - WINDOW
    with db.session_scope() as session:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stale = LoginThrottle.window_start <= cutoff
        upsert = insert(LoginThrottle).values(key=key, failures=1, window_start=now, locked_until=None) \
            .on_conflict_do_update(index_elements=[LoginThrottle.key], set_={
                "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
                "window_start": case((stale, now), else_=LoginThrottle.window_start)})
        count, started = session.execute(upsert.returning(LoginThrottle.failures, LoginThrottle.window_start)).one()
    if count > limit:
        if count == limit + 1:  # once a minute per address: what an operator looks for when readers complain
            log.warning("anonymous search limit reached by %s (%d a minute)", address, limit)
        seconds = max(1, math.ceil((started + WINDOW - now).total_seconds()))
        raise TooManyRequests(message("errors_search_limit.too_many", limit=limit, seconds=seconds),
                              headers={"Retry-After": str(seconds)})
    return int(count)

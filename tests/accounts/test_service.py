"""Account services without HTTP."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.accounts import service
from portal.accounts.models import ApiToken, WebSession
from portal.errors import Conflict, Invalid, TooManyRequests, Unauthorized
from portal.jobs import REGISTRY, Scheduler
from portal.policy import SystemActor
from tests.factories import PASSWORD


def test_customer_needs_exactly_one_organisation_and_staff_none(session, make):
    org = make.org()
    with pytest.raises(Invalid, match="должен принадлежать организации"):
        service.create_user(session=session, actor=SystemActor.operator("test"), username="c", role="customer", password=PASSWORD)
    with pytest.raises(Invalid, match="не принадлежат организации"):
        service.create_user(session=session, actor=SystemActor.operator("test"), username="s", role="support", password=PASSWORD,
                            organization=org.slug)


def test_usernames_are_unique_case_insensitively(session, make):
    make.user("qa", username="Olga")
    with pytest.raises(Conflict):
        service.create_user(session=session, actor=SystemActor.operator("test"), username="olga", role="qa", password=PASSWORD)


def test_authenticate_counts_failures_per_account(db, settings, make):
    make.user("qa", username="olga")
    for _ in range(settings.login_max_failures - 1):
        with db.session_scope() as s, pytest.raises(Unauthorized):
            service.authenticate(session=s, settings=settings, username="olga", password="x", ip="10.0.0.1")
    with db.session_scope(write=False) as s:
        state = service.throttle_state(session=s, settings=settings, username="olga", ip=None)
    assert state.failures == settings.login_max_failures - 1 and state.locked_until is None


def test_login_attempt_keeps_counters_and_locks(db, settings, make):
    from portal.accounts import login

    make.user("qa", username="olga")
    fast = settings.model_copy(update={"login_slowdown_after": 100})
    for _ in range(fast.login_max_failures - 1):
        with pytest.raises(Unauthorized):
            login.attempt(db=db, settings=fast, username="olga", password="x", ip="10.0.0.1",
                          on_success=lambda s, u: u)
    with pytest.raises(TooManyRequests):
        login.attempt(db=db, settings=fast, username="olga", password="x", ip="10.0.0.1", on_success=lambda s, u: u)
    with pytest.raises(TooManyRequests):
        login.attempt(db=db, settings=fast, username="olga", password=PASSWORD, ip="10.0.0.2",
                      on_success=lambda s, u: u)


def test_address_limit_is_higher_than_account_limit(db, settings, make):
    """Many people of one customer share an address behind NAT: one person's typos must not lock them all."""
    from portal.accounts import login

    fast = settings.model_copy(update={"login_slowdown_after": 100})
    make.user("qa", username="olga")
    make.user("qa", username="ivan")
    for _ in range(fast.login_max_failures):
        with pytest.raises((Unauthorized, TooManyRequests)):
            login.attempt(db=db, settings=fast, username="olga", password="x", ip="10.0.0.9",
                          on_success=lambda s, u: u)
    user = login.attempt(db=db, settings=fast, username="ivan", password=PASSWORD, ip="10.0.0.9",
                         on_success=lambda s, u: u.username)
    assert user == "ivan"


def test_purge_job_removes_expired_sessions_and_tokens(db, settings, make):
    user = make.user("qa")
    now = dt.datetime.now(dt.UTC)
    with db.session_scope() as s:
        s.add(WebSession(token_hash="a" * 64, user_id=user.id, expires_at=now - dt.timedelta(minutes=1)))
        s.add(WebSession(token_hash="b" * 64, user_id=user.id, expires_at=now + dt.timedelta(hours=1)))
        s.add(ApiToken(token_hash="c" * 64, prefix="prt_c", user_id=user.id, kind="login",
                       expires_at=now - dt.timedelta(days=31)))
    scheduler = Scheduler(settings, db, clock=lambda: now, jobs={"accounts.purge": REGISTRY["accounts.purge"]})
    assert scheduler.tick() == ["accounts.purge"]
    with db.session_scope(write=False) as s:
        assert [w.token_hash[0] for w in s.query(WebSession)] == ["b"]
        assert s.query(ApiToken).count() == 0

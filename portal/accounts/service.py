"""Accounts: organisations, users, sessions, tokens, login throttling. Plain functions, session first."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from portal import audit, policy
from portal.accounts import security
from portal.accounts.models import ApiToken, LoginThrottle, Organization, Role, User, WebSession
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized, not_found
from portal.i18n import message
from portal.policy import Actor

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,149}$")
API_TOKEN_PREFIX = "prt_"
MAX_PERSONAL_TOKEN_DAYS = 366


# --- organisations --------------------------------------------------------------------------

def create_organization(*, session: Session, actor: Actor, slug: str, name: str) -> Organization:
    """Create a customer organisation."""
    policy.require(actor, "org.manage")
    errors = {}
    if not SLUG_RE.match(slug or ""):
        errors["slug"] = message("errors_accounts.slug_format")
    if not (name or "").strip():
        errors["name"] = message("errors_accounts.org_name_missing")
    if errors:
        raise Invalid.fields(errors)
    if session.scalar(select(Organization).where(Organization.slug == slug)):
        raise Conflict(message("errors_accounts.org_exists", slug=slug))
    org = Organization(slug=slug, name=name.strip())
    session.add(org)
    session.flush()
    audit.record(session, actor=actor, action="org.create", object_type="organization", object_id=slug,
                 details={"name": org.name}, organization_id=org.id)
    return org


def get_organization(*, session: Session, slug: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise not_found("organization", slug)
    return org


def list_organizations(*, session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.name)))


# --- users ----------------------------------------------------------------------------------

def _check_password(password: str) -> None:
    if len(password) < security.MIN_PASSWORD_LENGTH:
        raise Invalid.fields({"password": message("errors_accounts.password_short", min=security.MIN_PASSWORD_LENGTH)})


def create_user(
    *,
    session: Session,
    actor: Actor,
    username: str,
    role: str,
    password: str,
    organization: str | None = None,
    email: str | None = None,
    full_name: str = "",
) -> User:
    """Create a user; a customer must belong to exactly one organisation, staff to none."""
    policy.require(actor, "user.manage")
    errors: dict[str, str] = {}
    if not USERNAME_RE.match(username or ""):
        errors["username"] = message("errors_accounts.username_format")
    try:
        role_enum = Role(role)
    except ValueError:
        role_enum = None
        errors["role"] = message("errors_accounts.role_unknown", role=role, roles=", ".join(r.value for r in Role))
    if role_enum is Role.customer and not organization:
        errors["organization"] = message("errors_accounts.customer_needs_org")
    if role_enum is not None and role_enum.is_staff and organization:
        errors["organization"] = message("errors_accounts.staff_no_org")
    if email and ("@" not in email or len(email) > 254):
        errors["email"] = message("error.input.email")
    if len(password or "") < security.MIN_PASSWORD_LENGTH:
        errors["password"] = message("errors_accounts.password_short", min=security.MIN_PASSWORD_LENGTH)
    if errors:
        raise Invalid.fields(errors)
    assert role_enum is not None  # an unknown role is in the errors raised above
    # Argon2 before the first statement: a request's write transaction (and SQLite's lock) begins there.
    password_hash = security.hash_password(password)
    org = get_organization(session=session, slug=organization) if organization else None
    if session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        raise Conflict(message("errors_accounts.user_exists", username=username))
    user = User(
        username=username,
        role=role_enum.value,
        organization_id=org.id if org else None,
        email=email or None,
        full_name=full_name or "",
        password_hash=password_hash,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.create", object_type="user", object_id=username,
                 details={"role": user.role, "organization": organization, "email": email},
                 organization_id=user.organization_id)
    return user


def get_user(*, session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(message("errors_accounts.user_missing", username=username))
    return user


def list_users(*, session: Session, organization_id: int | None = None) -> list[User]:
    stmt = select(User).order_by(User.username)
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    return list(session.scalars(stmt))


def end_all_sessions(*, session: Session, user: User) -> int:
    """End every web session and revoke every token of the user."""
    ended = cast(CursorResult[Any], session.execute(delete(WebSession).where(WebSession.user_id == user.id))).rowcount
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return ended


def disable_user(*, session: Session, actor: Actor, username: str) -> User:
    """Disable a user and end all their sessions and tokens."""
    policy.require(actor, "user.manage")
    user = get_user(session=session, username=username)
    if not user.is_active:
        return user
    user.is_active = False
    end_all_sessions(session=session, user=user)
    audit.record(session, actor=actor, action="user.disable", object_type="user", object_id=username,
                 organization_id=user.organization_id)
    return user


def enable_user(*, session: Session, actor: Actor, username: str) -> User:
    """Enable a disabled user again."""
    policy.require(actor, "user.manage")
    user = get_user(session=session, username=username)
    if user.is_active:
        return user
    user.is_active = True
    audit.record(session, actor=actor, action="user.enable", object_type="user", object_id=username,
                 organization_id=user.organization_id)
    return user


def set_password(*, session: Session, actor: Actor, username: str, password: str) -> User:
    """Change a password; every session and token of the user ends."""
    policy.require(actor, "user.manage")
    _check_password(password)
    password_hash = security.hash_password(password)  # before the first statement, as in create_user
    user = get_user(session=session, username=username)
    user.password_hash = password_hash
    user.password_changed_at = utcnow()
    end_all_sessions(session=session, user=user)
    audit.record(session, actor=actor, action="user.password", object_type="user", object_id=username,
                 organization_id=user.organization_id)
    return user


# --- authentication and throttling ----------------------------------------------------------

@dataclass
class ThrottleState:
    failures: int
    locked_until: dt.datetime | None


def _throttle_keys(username: str, ip: str | None) -> list[str]:
    keys = [f"user:{username.lower()}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def throttle_state(*, session: Session, settings: Settings, username: str, ip: str | None) -> ThrottleState:
    """The worst state among the account's and the address's counters."""
    now = utcnow()
    window = dt.timedelta(minutes=settings.login_lockout_minutes)
    failures, locked = 0, None
    for key in _throttle_keys(username, ip):
        row = session.get(LoginThrottle, key)
        if row is None:
            continue
        if row.locked_until and row.locked_until > now:
            locked = max(locked, row.locked_until) if locked else row.locked_until
        if key.startswith("user:") and now - row.window_start < window:
            failures = row.failures
    return ThrottleState(failures, locked)


def _minutes_left(until: dt.datetime) -> int:
    return max(1, int((until - utcnow()).total_seconds() + 59) // 60)


def locked_message(until: dt.datetime) -> str:
    return message("errors_accounts.locked", minutes=_minutes_left(until))


@dataclass
class PasswordCheck:
    """The slow half of a login — Argon2 — done before any write transaction begins."""

    username: str
    ip: str | None
    password_hash: str | None  # the hash verified against: a login is recorded only if it is still the user's
    ok: bool
    new_hash: str | None = None  # the password hashed with today's parameters, when the stored hash is older


def check_password(*, session: Session, settings: Settings, username: str, password: str,
                   ip: str | None) -> PasswordCheck:
    """Refuse a locked account or address (429) and verify the password; writes nothing.

    ``session`` is only read, and the caller may end its transaction before the hashing starts by calling
    ``login_facts`` and ``verify`` apart (as ``portal.accounts.login`` does).
    """
    password_hash = login_facts(session=session, settings=settings, username=username, ip=ip)
    return verify(username=username, ip=ip, password_hash=password_hash, password=password)


def login_facts(*, session: Session, settings: Settings, username: str, ip: str | None) -> str | None:
    """429 when the account or address is locked; else the stored password hash (None: no such user)."""
    _refuse_when_locked(throttle_state(session=session, settings=settings, username=username, ip=ip))
    return session.scalar(select(User.password_hash).where(User.username == username))


def verify(*, username: str, ip: str | None, password_hash: str | None, password: str) -> PasswordCheck:
    ok = security.verify_password(password_hash, password)
    new_hash = security.hash_password(password) if ok and password_hash is not None and security.needs_rehash(password_hash) else None
    return PasswordCheck(username=username, ip=ip, password_hash=password_hash, ok=ok, new_hash=new_hash)


class PasswordChanged(Exception):
    """The user's password hash changed between the check and the record: check again."""


def _refuse_when_locked(state: ThrottleState) -> None:
    if state.locked_until:
        raise TooManyRequests(locked_message(state.locked_until),
                              headers={"Retry-After": str(int((state.locked_until - utcnow()).total_seconds()) + 1)})


def record_login(*, session: Session, settings: Settings, check: PasswordCheck) -> User:
    """The fast, writing half of a login: count a failure (401/429) or clear the counters and return the user.

    Failures are flushed into the caller's write transaction, which must commit even when this raises. The
    lock is checked again here, inside the transaction: attempts verified in parallel before a lockout are
    refused once it is in place, so parallel guesses learn no more than serial ones.
    """
    username, ip = check.username, check.ip
    _refuse_when_locked(throttle_state(session=session, settings=settings, username=username, ip=ip))
    user = session.scalar(select(User).where(User.username == username))
    if (user.password_hash if user else None) != check.password_hash:
        raise PasswordChanged()
    if check.ok and user is not None and user.is_active:
        for key in _throttle_keys(username, ip):
            row = session.get(LoginThrottle, key)
            if row is not None:
                session.delete(row)
        if check.new_hash:
            user.password_hash = check.new_hash
        return user
    locked_until = _count_failure(session=session, settings=settings, username=username, ip=ip)
    audit.record(session, actor=user if user else policy.Visitor(username), action="auth.login_failed",
                 object_type="user", object_id=username, details={"ip": ip, "locked": bool(locked_until)},
                 organization_id=user.organization_id if user else None)
    session.flush()
    if locked_until:
        raise TooManyRequests(locked_message(locked_until))
    if user is not None and check.ok and not user.is_active:
        raise Unauthorized(message("errors_accounts.account_disabled"))
    raise Unauthorized(message("errors_accounts.wrong_credentials"))


def authenticate(*, session: Session, settings: Settings, username: str, password: str, ip: str | None) -> User:
    """Check a username and password in one write transaction, counting failures; raise 401 or 429.

    For callers without concurrency to care about (the command line, tests); the web login verifies the
    password before its write transaction begins (``portal.accounts.login``).
    """
    check = check_password(session=session, settings=settings, username=username, password=password, ip=ip)
    return record_login(session=session, settings=settings, check=check)


def _count_failure(*, session: Session, settings: Settings, username: str, ip: str | None) -> dt.datetime | None:
    now = utcnow()
    window = dt.timedelta(minutes=settings.login_lockout_minutes)
    locked_until = None
    for key in _throttle_keys(username, ip):
        row = session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_start=now)
            session.add(row)
        if now - row.window_start >= window:
            row.failures, row.window_start, row.locked_until = 0, now, None
        row.failures += 1
        limit = settings.login_max_failures_per_address if key.startswith("ip:") else settings.login_max_failures
        if row.failures >= limit:
            row.locked_until = now + window
            locked_until = row.locked_until
    return locked_until


def slowdown_seconds(*, settings: Settings, failures: int) -> float:
    """Delay before answering a login attempt after earlier failures: 0.5 s, 1 s, 2 s … up to 5 s."""
    over = failures - settings.login_slowdown_after
    return 0.0 if over < 0 else min(5.0, 0.5 * (2**over))


# --- web sessions -----------------------------------------------------------------------------

def start_web_session(*, session: Session, settings: Settings, user: User, ip: str = "", user_agent: str = "",
                      replaces: str | None = None) -> str:
    """Open a server-side session and return the random cookie value; a previous session is ended."""
    if replaces:
        session.execute(delete(WebSession).where(WebSession.token_hash == security.token_digest(replaces)))
    token = security.new_token()
    session.add(WebSession(
        token_hash=security.token_digest(token),
        user_id=user.id,
        expires_at=utcnow() + dt.timedelta(hours=settings.session_hours),
        ip=(ip or "")[:64],
        user_agent=(user_agent or "")[:300],
    ))
    audit.record(session, actor=user, action="auth.login", object_type="user", object_id=user.username,
                 details={"ip": ip, "via": "web"}, organization_id=user.organization_id)
    return token


def user_for_session(*, session: Session, token: str | None) -> User | None:
    if not token:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == security.token_digest(token)))
    if row is None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    return row.user


def end_web_session(*, session: Session, token: str | None) -> None:
    if not token:
        return
    row = session.scalar(select(WebSession).where(WebSession.token_hash == security.token_digest(token)))
    if row is not None:
        audit.record(session, actor=row.user, action="auth.logout", object_type="user",
                     object_id=row.user.username, organization_id=row.user.organization_id)
        session.delete(row)


# --- API tokens -------------------------------------------------------------------------------

def issue_token(*, session: Session, user: User, kind: str, expires_at: dt.datetime, name: str = "") -> tuple[str, ApiToken]:
    token = security.new_token(API_TOKEN_PREFIX)
    row = ApiToken(token_hash=security.token_digest(token), prefix=token[:10], user_id=user.id, kind=kind,
                   name=name, expires_at=expires_at)
    session.add(row)
    session.flush()
    audit.record(session, actor=user, action=f"token.issue_{kind}", object_type="api_token", object_id=row.id,
                 details={"name": name, "expires_at": expires_at}, organization_id=user.organization_id)
    return token, row


def login_token(*, session: Session, settings: Settings, user: User) -> tuple[str, ApiToken]:
    """A short-lived bearer token for POST /api/v1/auth/token."""
    return issue_token(session=session, user=user, kind="login",
                       expires_at=utcnow() + dt.timedelta(hours=settings.token_hours))


def create_personal_token(*, session: Session, user: User, name: str, days: int) -> tuple[str, ApiToken]:
    """A named personal token the user manages; shown once, stored hashed."""
    errors = {}
    if not (name or "").strip() or len(name) > 100:
        errors["name"] = message("errors_accounts.token_name_missing")
    if not 1 <= days <= MAX_PERSONAL_TOKEN_DAYS:
        errors["days"] = message("errors_accounts.token_days", max=MAX_PERSONAL_TOKEN_DAYS)
    if errors:
        raise Invalid.fields(errors)
    return issue_token(session=session, user=user, kind="personal", name=name.strip(),
                       expires_at=utcnow() + dt.timedelta(days=days))


def list_personal_tokens(*, session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == "personal")
        .order_by(ApiToken.created_at.desc())
    ))


def revoke_token(*, session: Session, user: User, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise not_found("token", token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor=user, action="token.revoke", object_type="api_token", object_id=row.id,
                     details={"name": row.name}, organization_id=user.organization_id)
    return row


def user_for_token(*, session: Session, token: str) -> User:
    """The owner of a valid bearer token, or 401 saying why."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == security.token_digest(token)))
    if row is None:
        raise Unauthorized(message("errors_accounts.token_unknown"))
    if row.revoked_at is not None:
        raise Unauthorized(message("errors_accounts.token_revoked"))
    if row.expires_at <= utcnow():
        raise Unauthorized(message("errors_accounts.token_expired"))
    if not row.user.is_active:
        raise Unauthorized(message("errors_accounts.account_disabled"))
    return row.user

"""JSON API of accounts: tokens, the current user, users and organisations, the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from portal import audit, policy
from portal.accounts import login, service
from portal.accounts.schemas import (
    AuditOut,
    Me,
    OrganizationCreate,
    OrganizationOut,
    PersonalTokenCreate,
    PersonalTokenCreated,
    PersonalTokenOut,
    TokenRequest,
    TokenResponse,
    UserCreate,
    UserOut,
    me_of,
)
from portal.deps import CurrentUser, DatabaseDep, SessionDep, SettingsDep, client_ip, verify_csrf
from portal.errors import Invalid
from portal.timeutil import DateOutOfRange, as_aware, check_range
from portal.validation import MAX_OFFSET, RowId

router = APIRouter(prefix="/api/v1", tags=["accounts"], dependencies=[Depends(verify_csrf)])


@router.post("/auth/token", response_model=TokenResponse, summary="Exchange a username and password for a bearer token")
def issue_token(body: TokenRequest, request: Request, db: DatabaseDep, settings: SettingsDep) -> TokenResponse:
    def make_token(session, user):
        token, row = service.login_token(session=session, settings=settings, user=user)
        return TokenResponse(access_token=token, expires_at=row.expires_at)

    return login.attempt(db=db, settings=settings, username=body.username, password=body.password,
                         ip=client_ip(request), on_success=make_token)


@router.get("/me", response_model=Me, summary="The signed-in user")
def me(user: CurrentUser) -> dict:
    return me_of(user)


@router.get("/tokens", response_model=list[PersonalTokenOut], summary="My personal API tokens")
def list_tokens(user: CurrentUser, session: SessionDep):
    policy.require(user, "token.manage_own")
    return service.list_personal_tokens(session=session, user=user)


@router.post("/tokens", response_model=PersonalTokenCreated, status_code=201, summary="Create a personal API token")
def create_token(body: PersonalTokenCreate, user: CurrentUser, session: SessionDep):
    policy.require(user, "token.manage_own")
    token, row = service.create_personal_token(session=session, user=user, name=body.name, days=body.days)
    return PersonalTokenCreated.model_validate({**PersonalTokenOut.model_validate(row).model_dump(),
                                                "access_token": token})


@router.delete("/tokens/{token_id}", response_model=PersonalTokenOut, summary="Revoke a personal API token")
def revoke_token(token_id: RowId, user: CurrentUser, session: SessionDep):
    policy.require(user, "token.manage_own")
    return service.revoke_token(session=session, user=user, token_id=token_id)


@router.get("/organizations", response_model=list[OrganizationOut], summary="Customer organisations")
def list_organizations(user: CurrentUser, session: SessionDep):
    policy.require(user, "org.list")
    return service.list_organizations(session=session)


@router.post("/organizations", response_model=OrganizationOut, status_code=201, summary="Add a customer organisation")
def create_organization(body: OrganizationCreate, user: CurrentUser, session: SessionDep):
    policy.require(user, "org.manage")
    return service.create_organization(session=session, actor=user, slug=body.slug, name=body.name)


@router.get("/users", response_model=list[UserOut], summary="All users (admin)")
def list_users(user: CurrentUser, session: SessionDep):
    policy.require(user, "user.manage")
    return [me_of(u) for u in service.list_users(session=session)]


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user (admin)")
def create_user(body: UserCreate, user: CurrentUser, session: SessionDep):
    policy.require(user, "user.manage")
    created = service.create_user(session=session, actor=user, username=body.username, role=body.role,
                                  password=body.password, organization=body.organization, email=body.email,
                                  full_name=body.full_name)
    return me_of(created)


@router.post("/users/{username}/disable", response_model=UserOut, summary="Disable a user and end their sessions")
def disable_user(username: str, user: CurrentUser, session: SessionDep):
    policy.require(user, "user.manage")
    return me_of(service.disable_user(session=session, actor=user, username=username))


@router.get("/audit", response_model=list[AuditOut], summary="The audit log, newest first (admin)")
def audit_log(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    since: dt.datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
):
    policy.require(user, "audit.read")
    if since is not None:
        try:
            check_range(since)
        except DateOutOfRange as exc:
            raise Invalid.fields({"since": str(exc)}) from None
    return audit.query(session, since=as_aware(since, settings.timezone), actor=actor, action=action, object_type=object_type,
                       object_id=object_id, limit=limit, offset=offset)

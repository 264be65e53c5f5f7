from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(Strict):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    slug: str
    name: str


class Me(BaseModel):
    username: str
    role: str
    full_name: str
    email: str | None
    organization: OrganizationOut | None


class UserOut(Me):
    is_active: bool


class UserCreate(Strict):
    username: str
    role: str
    password: str
    organization: str | None = None
    email: str | None = None
    full_name: str = ""


class OrganizationCreate(Strict):
    slug: str
    name: str


class PersonalTokenCreate(Strict):
    name: str = Field(max_length=100)
    days: int = Field(30, ge=1, le=366)


class PersonalTokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class PersonalTokenCreated(PersonalTokenOut):
    access_token: str


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict


def me_of(user) -> dict:
    org = user.organization
    return {
        "username": user.username,
        "role": user.role,
        "full_name": user.full_name,
        "email": user.email,
        "organization": {"slug": org.slug, "name": org.name} if org else None,
        "is_active": user.is_active,
    }

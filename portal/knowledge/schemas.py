"""Request and response shapes of the knowledge-base API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["problem", "known_issue", "consultation", "howto"]
Visibility = Literal["public", "customers", "internal"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArticleCreate(Strict):
    """Either ``ticket_id`` + ``kind`` (a draft from the kind's template), or an article written from scratch."""

    ticket_id: str | None = Field(None, max_length=40, description="A resolved ticket to write the draft from")
    kind: Kind
    title: str | None = Field(None, max_length=200)
    body: str = Field("", max_length=500_000)
    visibility: Visibility | None = Field(None, description="By default customers (articles.DEFAULT_VISIBILITY)")
    summary: str = Field("", max_length=500)
    module: str = Field("", max_length=100)
    product_versions: list[str] = Field(default_factory=list)
    tickets: list[str] = Field(default_factory=list)
    fixed_in: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    status: Literal["draft", "review"] = "draft"
    section: str | None = Field(None, max_length=80, description="Folder under kb/; by default from the kind")
    slug: str | None = Field(None, max_length=80, description="By default from the title")


class ArticleUpdate(Strict):
    body: str = Field(max_length=500_000)
    front_matter: dict[str, Any]
    base_commit: str = Field(max_length=40, description="The `commit` of the version the edit started from")


class RestoreRequest(Strict):
    commit: str = Field(max_length=40)


class PreviewRequest(Strict):
    body: str = Field("", max_length=500_000)


class PreviewOut(BaseModel):
    html: str


class ArticleOut(BaseModel):
    slug: str
    section: str
    path: str
    commit: str
    front_matter: dict[str, Any]
    body: str
    url: str | None = Field(None, description="Where readers find it on the site once built")


class ArticleListItem(BaseModel):
    slug: str
    section: str
    title: str
    kind: str | None
    visibility: str | None
    status: str | None
    tickets: list[str]
    error: str = ""


class CommitOut(BaseModel):
    commit: str
    slug: str
    status: str


class VersionOut(BaseModel):
    commit: str
    author: str
    email: str
    date: str
    message: str


class DiffOut(BaseModel):
    from_commit: str
    to_commit: str
    diff: str


class BuildOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    edition: str
    commit: str
    status: str
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_ms: int | None
    pages: int | None
    error: str | None

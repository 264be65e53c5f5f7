"""The start page: asks every registered section whether it has something for the reader."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from portal import web
from portal.dashboard import SECTIONS
from portal.deps import CurrentUser, SessionDep, verify_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


@router.get("/")
def dashboard(request: Request, user: CurrentUser, session: SessionDep):
    sections = []
    for section in SECTIONS:
        rendered = section(request, session, user)
        if rendered is not None:
            sections.append(rendered)
    return web.render(request, "dashboard/index.html", {"sections": sections})

"""Pages and API of notices: the customer's dashboard and package page show their organisation's notices with an
acknowledge button, the package pages link a package and its replacement both ways, the delivery board lists the
withdrawal notices nobody acknowledged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from portal import i18n, policy, web
from portal.deps import CurrentUser, SessionDep, verify_csrf
from portal.errors import Invalid
from portal.releases import notices, supersede
from portal.releases.models import NoticeKind, Package, PackageNotice
from portal.validation import RowId

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
api_router = APIRouter(prefix="/api/v1", tags=["packages"], dependencies=[Depends(verify_csrf)])


# --- what the package page, the board and the dashboard show -------------------------------------------------

def _visible(user, package: Package | None) -> Package | None:
    return package if package is not None and policy.allows(user, "package.view", package) else None


def package_links(session, *, package: Package, user) -> dict:
    """The package it supersedes and the packages that supersede it — those the reader may see only."""
    old = session.get(Package, package.supersedes_id) if package.supersedes_id else None
    newer = [p for p in supersede.replacements(session, package=package, published_only=not user.is_staff)
             if _visible(user, p)]
    return {"supersedes": _visible(user, old), "replaced_by": newer}


def package_context(session, *, package: Package, user) -> dict:
    """What the package page adds: the replacement links and the reader's organisation's notices of it."""
    own = notices.shown(notices.list_notices(session=session, user=user, package_id=package.id)) \
        if user.organization_id is not None else []
    return {**package_links(session, package=package, user=user), "package_notices": own}


def board_context(session, *, user) -> dict:
    return {"unacknowledged": notices.unacknowledged_withdrawals(session=session, user=user)}


def dashboard_section(request, session, user):
    """The dashboard's section: the reader's organisation's open notices, each with its acknowledge button;
    second line's: how many withdrawal notices wait for a customer's acknowledgement."""
    if policy.allows(user, "delivery.record"):
        waiting = notices.unacknowledged_withdrawals(session=session, user=user)
        if not waiting:
            return None
        return "releases/_notices_dashboard.html", {"staff": True, "notices": waiting}
    if user.organization_id is None or not policy.allows(user, "notice.view"):
        return None
    open_notices = notices.shown(notices.list_notices(session=session, user=user, open_only=True))
    if not open_notices:
        return None
    return "releases/_notices_dashboard.html", {"staff": False, "notices": open_notices}


# --- acknowledging ---------------------------------------------------------------------------------------------

def _back(request) -> str:
    """Back to the page the button was on (this site's dashboard or a package page), else the dashboard."""
    referer = request.headers.get("referer", "")
    base = str(request.base_url)
    if referer.startswith(base):
        path = "/" + referer[len(base):].split("#", 1)[0]
        if path == "/" or path.startswith("/packages/"):
            return path
    return "/"


@router.post("/notices/{notice_id}/acknowledge")
def acknowledge_page(request: Request, user: CurrentUser, session: SessionDep, notice_id: RowId):
    notice = notices.acknowledge(session=session, actor=user, notice_id=notice_id)  # refusals: 403 / 404 pages
    response = web.redirect(_back(request))
    web.flash(request, response, i18n.translate("notices.acknowledged_flash", web.language(request),
                                                id=notice.package_id))
    return response


def notice_out(notice: PackageNotice, *, user) -> dict:
    """A notice as its reader may see it: the organisation is the reader's own (customers) or any (staff)."""
    replacement = _visible(user, notice.replacement)
    return {
        "id": notice.id, "package_id": notice.package_id, "package_title": notice.package.title,
        "kind": notice.kind, "reason": notice.reason or None, "replacement": replacement.id if replacement else None,
        "organization": notice.organization.slug, "organization_name": notice.organization.name,
        "created_at": notice.created_at, "acknowledged_at": notice.acknowledged_at,
        "acknowledged_by": notice.acknowledged_by or None,
    }


@api_router.get("/notices", summary="Notices of withdrawn or replaced packages (customers: their organisation's)")
def list_notices_api(user: CurrentUser, session: SessionDep,
                     open: Annotated[bool, Query(description="only notices not yet acknowledged")] = False,
                     kind: Annotated[str | None, Query(description="withdrawn or superseded")] = None,
                     package: Annotated[str | None, Query(max_length=80)] = None) -> list[dict]:
    if kind is not None and kind not in NoticeKind.__members__:
        raise Invalid.fields({"kind": i18n.message("notices.kind_allowed", values=", ".join(NoticeKind))})
    rows = notices.list_notices(session=session, user=user, open_only=open, kind=kind, package_id=package)
    return [notice_out(n, user=user) for n in rows]


@api_router.post("/notices/{notice_id}/acknowledge",
                 summary="Acknowledge a notice of a withdrawn or replaced package (a customer of its organisation)")
def acknowledge_api(notice_id: RowId, user: CurrentUser, session: SessionDep) -> dict:
    return notice_out(notices.acknowledge(session=session, actor=user, notice_id=notice_id), user=user)

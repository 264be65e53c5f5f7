"""Pages of fix packages and deliveries: the list, the package page, the upload form, the delivery board."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from portal import i18n, policy, web
from portal.accounts import service as accounts
from portal.deps import CurrentUser, DatabaseDep, SessionDep, SettingsDep, verify_csrf
from portal.errors import PortalError
from portal.releases import deliveries, notes, notice_pages, service, upload
from portal.releases.models import Channel, DeliveryStatus, PackageStatus
from portal.releases.schemas import file_url
from portal.timeutil import parse_local
from portal.validation import RowId

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
upload_router = APIRouter(include_in_schema=False)  # the streamed form checks its CSRF token itself

Text = Annotated[str, Form(max_length=100_000)]


# --- the list and the upload form ---------------------------------------------------------------------

@router.get("/packages")
def packages_page(request: Request, user: CurrentUser, session: SessionDep, status: str = ""):
    packages = service.list_packages(session=session, user=user, status=status or None)
    own = {}
    if user.organization_id is not None:
        for d in deliveries.list_deliveries(session=session, user=user):
            own[d.package_id] = d
    return web.render(request, "releases/list.html", {"packages": packages, "status": status, "own": own,
                                                      "statuses": [s.value for s in PackageStatus]})


def _new_form(request, session, *, form=None, errors=None, status_code=200):
    return web.render(request, "releases/new.html", {
        "form": form or {}, "errors": errors or {},
        "organizations": accounts.list_organizations(session=session),
        "replaceable": [p for p in service.list_packages(session=session, user=request.state.user)
                        if p.status != PackageStatus.draft],
    }, status_code=status_code)


@router.get("/packages/new")
def new_package_page(request: Request, user: CurrentUser, session: SessionDep):
    policy.require(user, "package.manage")
    return _new_form(request, session)


FIELDS = ("id", "title", "version", "product_versions", "modules", "ticket_ids", "organizations", "notes", "supersedes")


def _typed(values) -> dict[str, str]:
    """The form's fields as the person typed them (lists joined back), to show them again after a refusal."""
    return {name: ", ".join(v for v in values(name) if v) for name in FIELDS}


@router.get("/packages/new/check")
def new_package_check(request: Request, user: CurrentUser, session: SessionDep,
                      id: Annotated[str, Query(max_length=200)] = "", title: Annotated[str, Query(max_length=300)] = "",
                      version: Annotated[str, Query(max_length=100)] = "",
                      product_versions: Annotated[str, Query(max_length=1000)] = "",
                      modules: Annotated[str, Query(max_length=2000)] = "",
                      ticket_ids: Annotated[str, Query(max_length=2000)] = "",
                      organizations: Annotated[str, Query(max_length=2000)] = "",
                      supersedes: Annotated[str, Query(max_length=200)] = ""):
    """The upload page asks this as the person types and before the file is sent: what is wrong with the fields
    (``{"errors": {field: message}}``), so a mistyped ticket number never costs an upload."""
    data = service.PackageInput(id=id, title=title, version=version,
                                product_versions=service.split_list([product_versions]),
                                modules=service.split_list([modules]), ticket_ids=service.split_list([ticket_ids]),
                                organizations=service.split_list([organizations]), supersedes=supersedes)
    errors = service.check_input(session=session, actor=user, data=data)
    lang = web.language(request)
    return {"errors": {field: i18n.in_language(message, lang) for field, message in errors.items()}}


@upload_router.post("/packages/new")
async def new_package_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                             db: DatabaseDep):
    from starlette.concurrency import run_in_threadpool

    typed: dict[str, str] = {}
    try:
        form = await upload.receive_package_form(request, user=user, session=session, settings=settings, db=db)
        typed = _typed(form.values)
        package = await run_in_threadpool(lambda: upload.create_from_form(form, user=user, session=session,
                                                                          settings=settings))
    except PortalError as exc:
        if exc.status_code in (401, 403) and not exc.errors:
            raise
        errors, status_code = web.form_errors(exc), exc.status_code
        return await run_in_threadpool(lambda: _new_form(request, session, form=typed, errors=errors,
                                                         status_code=status_code))
    response = web.redirect(f"/packages/{package.id}?created=1")
    return response


# --- the package page ----------------------------------------------------------------------------------

def _package_page(request, session, user, package_id: str, *, errors=None, status_code=200, notice=None):
    package = service.get_package(session=session, package_id=package_id, user=user)
    own = None
    if user.organization_id is not None:
        own = deliveries.find_delivery(session=session, package_id=package.id, organization_id=user.organization_id)
    manage = policy.allows(user, "package.manage")
    context = {
        "package": package, "own": own, "manage": manage, "errors": errors or {}, "notice": notice,
        "notes_html": notes.to_html(package.notes), "file_url": file_url,
        "ticket_ids": service.visible_ticket_ids(session=session, package=package, user=user),
        "board": deliveries.list_deliveries(session=session, user=user, package=package.id) if manage else [],
        "received": deliveries.received_by(session=session, package=package) if manage else [],
        "organizations": service.entitled_organizations(session=session, package=package) if manage else [],
        **notice_pages.package_context(session, package=package, user=user),
    }
    return web.render(request, "releases/view.html", context, status_code=status_code)


@router.get("/packages/{package_id}")
def package_page(request: Request, user: CurrentUser, session: SessionDep, package_id: str, created: int = 0):
    notice = i18n.translate("packages.created_notice", web.language(request)) if created else None
    return _package_page(request, session, user, package_id, notice=notice)


def _act(request, session, user, package_id, action, done: str):
    """Run a package action; a refusal shows the package page with the message, success says what happened and
    what follows (``flow.package_done.<done>``)."""
    try:
        action()
    except PortalError as exc:
        if exc.status_code in (401, 403, 404):
            raise
        session.rollback()
        return _package_page(request, session, user, package_id, errors=web.form_errors(exc), status_code=exc.status_code)
    response = web.redirect(f"/packages/{package_id}?done={done}")
    web.flash(request, response, i18n.translate(f"flow.package_done.{done}", web.language(request), id=package_id))
    return response


def _confirm(request, session, user, package_id: str, *, step: str, fields: dict[str, str], details: list[str]):
    """The step before an irreversible package action: what it does and to whom, and one button that does it."""
    package = service.get_package(session=session, package_id=package_id, user=user, action="package.manage")
    t = lambda key, **values: i18n.translate(key, web.language(request), **values)  # noqa: E731
    return web.render(request, "confirm.html", {"confirm": {
        "title": t(f"flow.package_confirm.{step}_title", id=package.id), "lead": t(f"flow.package_confirm.{step}_lead"),
        "details": details, "action": f"/packages/{package.id}/{step}", "fields": fields,
        "button": t(f"flow.package_confirm.{step}_button"), "cancel": f"/packages/{package.id}", "danger": True}})


@router.post("/packages/{package_id}/notes")
def package_notes(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, package_id: str,
                  notes_text: Annotated[str, Form(alias="notes", max_length=100_000)] = ""):
    return _act(request, session, user, package_id, lambda: service.update_notes(
        session=session, settings=settings, actor=user, package_id=package_id, notes=notes_text), "notes")


@router.post("/packages/{package_id}/publish")
def package_publish(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                    package_id: str, confirmed: Annotated[bool, Form()] = False):
    if not confirmed:
        package = service.get_package(session=session, package_id=package_id, user=user, action="package.manage")
        lang = web.language(request)
        orgs = service.entitled_organizations(session=session, package=package)
        details = [i18n.translate("flow.package_confirm.files", lang, names=", ".join(f.name for f in package.files)),
                   i18n.translate("flow.package_confirm.orgs", lang,
                                  names=", ".join(o.name for o in orgs) or "—")]
        return _confirm(request, session, user, package_id, step="publish", fields={}, details=details)
    return _act(request, session, user, package_id, lambda: service.publish_package(
        session=session, settings=settings, actor=user, package_id=package_id), "published")


@router.post("/packages/{package_id}/withdraw")
def package_withdraw(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                     package_id: str, reason: Annotated[str, Form(max_length=5000)] = "",
                     confirmed: Annotated[bool, Form()] = False):
    if not confirmed and reason.strip():  # without a reason the service refuses under the field
        lang = web.language(request)
        return _confirm(request, session, user, package_id, step="withdraw", fields={"reason": reason},
                        details=[i18n.translate("flow.package_confirm.reason", lang, reason=reason.strip())])
    return _act(request, session, user, package_id, lambda: service.withdraw_package(
        session=session, settings=settings, actor=user, package_id=package_id, reason=reason), "withdrawn")


@router.post("/packages/{package_id}/acknowledge")
def package_acknowledge(request: Request, user: CurrentUser, session: SessionDep, package_id: str,
                        note: Annotated[str, Form(max_length=5000)] = ""):
    package = service.get_package(session=session, package_id=package_id, user=user)

    def act():
        own = deliveries.find_delivery(session=session, package_id=package.id,
                                       organization_id=user.organization_id or -1)
        if own is None:
            raise PortalError(i18n.message("errors_core.no_delivery_here"))
        deliveries.acknowledge(session=session, actor=user, delivery_id=own.id, note=note)

    return _act(request, session, user, package_id, act, "acknowledged")


# --- the delivery board -----------------------------------------------------------------------------------

def _period(settings, since: str, until: str):
    """The board's period in the portal's time zone; a date given as "until" includes that whole day."""
    since_at = parse_local(since, settings.timezone) if since else None
    until_at = parse_local(until, settings.timezone) if until else None
    if until_at is not None and len(until.strip()) == 10:
        until_at += dt.timedelta(days=1)
    return since_at, until_at


def _board(request, session, user, *, group="package", status="", organization="", package="", overdue="",
           since="", until="", errors=None, status_code=200):
    try:
        since_at, until_at = _period(request.app.state.settings, since, until)
    except ValueError:
        since_at = until_at = None
        errors = {**(errors or {}), "_": i18n.translate("deliveries.bad_period", web.language(request))}
    rows = deliveries.list_deliveries(session=session, user=user, package=package or None,
                                      organization=organization or None, status=status or None,
                                      overdue=True if overdue else None, since=since_at, until=until_at)
    groups: dict[str, list] = {}
    for d in rows:
        key = d.package_id if group != "organization" else f"{d.organization.name} ({d.organization.slug})"
        groups.setdefault(key, []).append(d)
    return web.render(request, "releases/board.html", {
        "groups": groups, "group": group, "status": status, "organization": organization, "package": package,
        "overdue": overdue, "since": since, "until": until, "errors": errors or {},
        "statuses": [s.value for s in DeliveryStatus], "channels": [c.value for c in Channel],
        "organizations": accounts.list_organizations(session=session),
        "packages": service.list_packages(session=session, user=user, status=PackageStatus.published.value),
        **notice_pages.board_context(session, user=user),
    }, status_code=status_code)


@router.get("/deliveries")
def board_page(request: Request, user: CurrentUser, session: SessionDep, group: str = "package", status: str = "",
               organization: str = "", package: str = "", overdue: str = "", since: str = "", until: str = ""):
    policy.require(user, "delivery.record")
    return _board(request, session, user, group=group, status=status, organization=organization, package=package,
                  overdue=overdue, since=since, until=until)


@router.get("/deliveries/export.csv")
def board_csv(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, since: str = "",
              until: str = "", status: str = "", organization: str = "", package: str = ""):
    policy.require(user, "delivery.record")
    try:
        since_at, until_at = _period(settings, since, until)
    except ValueError:
        from portal.errors import Invalid

        raise Invalid.fields({"since": i18n.message("deliveries.bad_period")}) from None
    rows = deliveries.list_deliveries(session=session, user=user, package=package or None,
                                      organization=organization or None, status=status or None, since=since_at,
                                      until=until_at)
    name = f"deliveries-{since or 'all'}-{until or 'now'}.csv"
    return Response(deliveries.export_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _board_act(request, session, user, action, done: str):
    """Run a delivery action; success goes back to the board saying what changed (``flow.delivery_done.<done>``
    with the package and the organisation)."""
    try:
        delivery = action()
    except PortalError as exc:
        if exc.status_code in (401, 403, 404) and not exc.errors:
            raise
        session.rollback()
        return _board(request, session, user, errors=web.form_errors(exc), status_code=exc.status_code)
    response = web.redirect(request.headers.get("referer") if _same_site(request) else "/deliveries")
    web.flash(request, response, i18n.translate(f"flow.delivery_done.{done}", web.language(request),
                                                package=delivery.package_id, organization=delivery.organization.name))
    return response


def _same_site(request) -> bool:
    referer = request.headers.get("referer", "")
    return referer.startswith(str(request.base_url)) and "/deliveries" in referer


@router.post("/deliveries/record")
def board_record(request: Request, user: CurrentUser, session: SessionDep,
                 package_id: Annotated[str, Form(max_length=80)] = "",
                 organization: Annotated[str, Form(max_length=64)] = "",
                 channel: Annotated[str, Form(max_length=20)] = "", note: Annotated[str, Form(max_length=5000)] = ""):
    return _board_act(request, session, user, lambda: deliveries.record_handover(
        session=session, actor=user, package_id=package_id, organization=organization, channel=channel, note=note),
        "recorded")


@router.post("/deliveries/{delivery_id}/confirm")
def board_confirm(request: Request, user: CurrentUser, session: SessionDep, delivery_id: RowId,
                  note: Annotated[str, Form(max_length=5000)] = ""):
    return _board_act(request, session, user, lambda: deliveries.confirm(
        session=session, actor=user, delivery_id=delivery_id, note=note), "confirmed")


# --- the ticket page's section ------------------------------------------------------------------------------

def ticket_section(request, session, user, ticket):
    """Tickets' TICKET_PAGE_SECTIONS: the state of the fix's delivery to the ticket's organisation."""
    packages = service.packages_for_ticket(session=session, ticket_id=ticket.id,
                                           statuses=(PackageStatus.published, PackageStatus.withdrawn))
    if not packages:
        return None
    rows = []
    for package in packages:
        if not policy.allows(user, "package.view", package):
            continue
        rows.append({"package": package, "delivery": deliveries.find_delivery(
            session=session, package_id=package.id, organization_id=ticket.organization_id)})
    if not rows:
        return None
    return "releases/_ticket_section.html", {"fix_rows": rows}


def dashboard_section(request, session, user):
    """The dashboard's section: deliveries still open (customers: theirs), notices of withdrawn packages."""
    staff = policy.allows(user, "delivery.record")
    if not staff and user.organization_id is None:
        return None
    rows = deliveries.list_deliveries(session=session, user=user)
    waiting = [d for d in rows if d.package.status == PackageStatus.published
               and d.status not in (DeliveryStatus.acknowledged, DeliveryStatus.confirmed)]
    if staff:
        # second line's work: acknowledged deliveries to confirm first, then those overdue
        to_confirm = [d for d in rows if d.package.status == PackageStatus.published
                      and d.status == DeliveryStatus.acknowledged]
        waiting = (to_confirm + [d for d in waiting if d.overdue])[:20]
        withdrawn = []
    else:
        # those the organisation received have their notice instead (releases.notices' own section)
        withdrawn = [d.package for d in rows if d.package.status == PackageStatus.withdrawn
                     and d.status not in (DeliveryStatus.withdrawn_notified, DeliveryStatus.withdrawal_acknowledged)]
    if not waiting and not withdrawn and not staff and not rows:
        return None
    return "releases/_dashboard.html", {"waiting": waiting, "withdrawn": withdrawn, "staff": staff}

"""Pages of tickets: the new-ticket form, the ticket page, lists, the queue, the SLA report, the catalogue."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from portal import csvexport, i18n, policy, web
from portal.accounts import service as accounts
from portal.db import utcnow
from portal.deps import CurrentUser, DatabaseDep, SessionDep, SettingsDep, verify_csrf
from portal.errors import Invalid, PortalError, not_found
from portal.registry import Registry
from portal.tickets import attachments as attachment_files
from portal.tickets import queue as ticket_queue
from portal.tickets import service, sla, steps, workflow, worklists
from portal.tickets import staged as staged_files
from portal.tickets.api import attachment_response
from portal.tickets.models import Channel, DeferReason, Kind, Priority, Status
from portal.tickets.schemas import sla_breached
from portal.validation import RowId

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

class TicketPageSection(Protocol):
    """Another domain's part of the ticket page: (template, context), or None when it has nothing to show."""

    def __call__(self, request: Request, session, user, ticket) -> tuple[str, dict] | None: ...


TICKET_PAGE_SECTIONS: Registry[TicketPageSection] = Registry("tickets.page_sections")


class TicketCitation(Protocol):
    """What a new ticket cites (``/tickets/new?article=<slug>``, from «Не помогло? Создать заявку» of the knowledge
    base): ``{"title", "url", "text"}`` for this reader, or None when the reference is not one they may see."""

    def __call__(self, request: Request, user, ref: str) -> dict[str, str] | None: ...


NEW_TICKET_CITATIONS: Registry[TicketCitation] = Registry("tickets.new_ticket_citations")
PER_PAGE = 50

Text = Annotated[str, Form(max_length=service.TEXT_MAX)]


def duration_text(delta: dt.timedelta, lang: str) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return i18n.translate("time.dh", lang, d=days, h=hours)
    return i18n.translate("time.hm", lang, h=hours, m=mins)


def _rows(tickets, lang: str, now: dt.datetime) -> list[dict]:
    rows = []
    for ticket in tickets:
        breached = sla_breached(ticket, now=now)
        if ticket.reacted_at is not None:
            left = i18n.translate("sla.reacted_ok" if ticket.sla_met else "sla.reacted_late", lang)
        elif breached:
            left = i18n.translate("sla.overdue", lang, time=duration_text(now - ticket.sla_reaction_due, lang))
        else:
            left = i18n.translate("sla.left", lang, time=duration_text(ticket.sla_reaction_due - now, lang))
        rows.append({"ticket": ticket, "breached": breached, "left": left})
    return rows


def _filters(organization: str, priority: str, status: str, module: str, assignee: str) -> service.TicketFilters:
    return service.TicketFilters(organization=organization or None, priority=priority or None,
                                 status=status or None, module=module or None, assignee=assignee or None)


def _list_context(request, session, user, filters, page: int, tickets) -> dict:
    staff = policy.allows(user, "ticket.view_internal")
    return {
        "rows": _rows(tickets[:PER_PAGE], web.language(request), utcnow()), "has_more": len(tickets) > PER_PAGE, "page": page,
        "filters": filters, "priorities": [p.value for p in Priority], "statuses": [s.value for s in Status],
        "modules": service.list_modules(session=session),
        "organizations": accounts.list_organizations(session=session) if staff else [],
        "workers": [u for u in accounts.list_users(session=session) if policy.allows(u, "ticket.queue")]
        if staff else [],
    }


Filter = Annotated[str, Query(max_length=150)]
Page = Annotated[int, Query(ge=1, le=100_000)]


@router.get("/tickets")
def tickets_page(request: Request, user: CurrentUser, session: SessionDep, organization: Filter = "",
                 priority: Filter = "", status: Filter = "", module: Filter = "", assignee: Filter = "",
                 page: Page = 1):
    filters = _filters(organization, priority, status, module, assignee)
    tickets = service.list_tickets(session=session, user=user, filters=filters, limit=PER_PAGE + 1,
                                   offset=(page - 1) * PER_PAGE)
    context = _list_context(request, session, user, filters, page, tickets)
    return web.render(request, "tickets/list.html", context)


@router.get("/tickets/find")
def find(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
         id: Annotated[str, Query(max_length=40)] = ""):
    """A typed reference — the full ID, a bare number (this year's) or a part of an ID: one ticket opens, several
    are listed; none (or only another organisation's) answers 404 like an unknown ID."""
    year = dt.datetime.now(ZoneInfo(settings.timezone)).year
    found = ticket_queue.find_tickets(session=session, user=user, query=id, prefix=settings.ticket_prefix, year=year)
    if len(found) == 1:
        return web.redirect(f"/tickets/{found[0].id}")
    context = _list_context(request, session, user, service.TicketFilters(), 1, found)
    context["found_query"] = id.strip()
    return web.render(request, "tickets/list.html", context)


@router.get("/tickets/queue")
def queue_page(request: Request, user: CurrentUser, session: SessionDep, organization: Filter = "",
               priority: Filter = "", status: Filter = "", module: Filter = "", assignee: Filter = "",
               page: Page = 1):
    policy.require(user, "ticket.queue")
    filters = _filters(organization, priority, status, module, assignee)
    tickets = service.queue(session=session, user=user, filters=filters, limit=PER_PAGE + 1,
                            offset=(page - 1) * PER_PAGE)
    context = _list_context(request, session, user, filters, page, tickets)
    context["summary"] = service.queue_summary(session=session)
    return web.render(request, "tickets/queue.html", context)


# --- the new-ticket form ---------------------------------------------------------------------------

def _form_page(request, session, user, *, form: dict, errors: dict | None = None, status_code: int = 200):
    table = sla.parse_reaction_hours(request.app.state.settings.sla_reaction_hours)
    return web.render(request, "tickets/new.html", {
        "reaction_hours": {p: f"{h:g}" for p, h in table.items()},
        "form": form, "errors": errors or {},
        "kinds": [k.value for k in Kind], "priorities": [p.value for p in Priority],
        "channels": [Channel.email.value, Channel.phone.value],
        "modules": service.list_modules(session=session), "versions": service.list_versions(session=session),
        "on_behalf": policy.allows(user, "ticket.create_for_other_org"),
        "organizations": accounts.list_organizations(session=session)
        if policy.allows(user, "ticket.create_for_other_org") else [],
    }, status_code=status_code)


@router.get("/tickets/new")
def new_ticket_form(request: Request, user: CurrentUser, session: SessionDep,
                    article: Annotated[str, Query(max_length=80)] = ""):
    policy.require(user, "ticket.create")
    form = {"priority": "medium", "kind": "problem"}
    if user.organization_id is not None:
        form.update(contact_name=user.display_name, contact_email=user.email or "")
    for cite in NEW_TICKET_CITATIONS if article else ():
        cited = cite(request, user, article)
        if cited is not None:  # the article stays cited in the description the customer sends
            form.update(cited_title=cited["title"], cited_url=cited["url"], description=cited["text"])
            break
    return _form_page(request, session, user, form=form)


@router.post("/tickets/new")
def new_ticket_submit(
    request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
    kind: Annotated[str, Form(max_length=40)] = "", module: Annotated[str, Form(max_length=120)] = "",
    product_version: Annotated[str, Form(max_length=40)] = "", summary: Annotated[str, Form(max_length=300)] = "",
    description: Text = "", steps_to_reproduce: Text = "", priority: Annotated[str, Form(max_length=20)] = "",
    contact_name: Annotated[str, Form(max_length=200)] = "", contact_email: Annotated[str, Form(max_length=254)] = "",
    contact_phone: Annotated[str, Form(max_length=40)] = "", organization: Annotated[str, Form(max_length=64)] = "",
    channel: Annotated[str, Form(max_length=10)] = "",
    attachments: Annotated[list[UploadFile], File()] = [],  # noqa: B006 — FastAPI copies defaults
    staged: Annotated[list[str], Form(max_length=staged_files.TOKEN_MAX)] = [],  # noqa: B006 — the kept files
):
    policy.require(user, "ticket.create")
    data = service.TicketInput(kind=kind, module=module, product_version=product_version, summary=summary,
                               description=description, steps_to_reproduce=steps_to_reproduce, priority=priority,
                               contact_name=contact_name, contact_email=contact_email, contact_phone=contact_phone,
                               organization=organization, channel=channel)
    # The files go into the blob store before the registration's short write transaction begins, and stay
    # listed in the form whatever is refused, so the customer never chooses them again.
    kept, refused = _keep_uploads(settings, user, staged, attachments)
    try:
        if refused is not None:
            raise refused.error
        ticket = service.register(session=session, settings=settings, actor=user, data=data)
        for staged_file in kept:
            service.add_attachment(session=session, settings=settings, ticket=ticket, actor=user,
                                   stored_file=staged_file.stored, content_type=staged_file.content_type)
    except PortalError as exc:
        session.rollback()
        errors = _file_errors(refused, "attachments") if refused and exc is refused.error else web.form_errors(exc)
        return _form_page(request, session, user, form={**vars(data), "kept": kept}, errors=errors,
                          status_code=422 if exc.status_code == 413 else exc.status_code)
    return web.redirect(f"/tickets/{ticket.id}?created=1")


@dataclass(frozen=True)
class _RefusedUpload:
    filename: str
    error: PortalError


def _keep_uploads(settings, user, tokens: list[str], uploads: list[UploadFile]
                  ) -> tuple[list[staged_files.StagedFile], _RefusedUpload | None]:
    """The form's kept files (tokens of this person only) and its new uploads, each stored in the blob store
    now; the first refused upload (the others are kept)."""
    kept = staged_files.redeem_all(settings, person_id=user.id, tokens=tokens)
    refused: _RefusedUpload | None = None
    for upload in uploads:
        if not upload.filename:
            continue
        try:
            stored = attachment_files.store_file(settings=settings, filename=upload.filename, stream=upload.file)
        except PortalError as exc:
            refused = refused or _RefusedUpload(upload.filename, exc)
            continue
        kept.append(staged_files.stage(settings, person_id=user.id, stored=stored, content_type=upload.content_type))
    return kept, refused


def _file_errors(refused: _RefusedUpload, field: str) -> dict:
    """A refused file's message, naming the file, under the form's file field."""
    errors = web.form_errors(refused.error)
    reason = errors.get("filename") or errors.get("file") or errors.get("_") or refused.error.detail
    return {field: i18n.message("staged.refused_file", name=refused.filename, reason=reason)}


# --- the SLA report -----------------------------------------------------------------------------------

def _default_period(settings) -> tuple[str, str]:
    from zoneinfo import ZoneInfo

    today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
    return (today - dt.timedelta(days=29)).isoformat(), today.isoformat()


def _chart(report, lang: str) -> dict:
    """Horizontal stacked bars per priority (met / breached / pending), as numbers for an inline SVG."""
    width = 420
    bars = []
    largest = max([r.total for r in report.rows] + [1])
    for i, row in enumerate(report.rows):
        x, parts = 0.0, []
        for part, count in (("met", row.met), ("breached", row.breached), ("pending", row.pending)):
            w = width * count / largest
            if count:
                parts.append({"kind": part, "x": round(x, 1), "w": round(w, 1), "count": count})
            x += w
        bars.append({"y": 10 + i * 34, "label": i18n.translate(f"priority.{row.priority}", lang), "parts": parts,
                     "total": row.total, "end": round(x, 1)})
    return {"bars": bars, "height": 20 + len(bars) * 34, "width": width}


@router.get("/tickets/sla")
def sla_page(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
             since: Annotated[str, Query(max_length=40)] = "", until: Annotated[str, Query(max_length=40)] = "",
             format: Annotated[str, Query(pattern="^(html|csv)$")] = "html"):
    policy.require(user, "sla.report")
    default_since, default_until = _default_period(settings)
    since, until = since or default_since, until or default_until
    start, end = service.parse_period(since, until, settings.timezone)
    report = service.sla_report(session=session, settings=settings, user=user, since=start, until=end)
    if format == "csv":
        return _csv(report, since, until)
    return web.render(request, "tickets/sla.html", {"report": report, "since": since, "until": until,
                                                    "chart": _chart(report, web.language(request)),
                                                    "calendar": settings.sla_calendar})


def _csv(report, since: str, until: str) -> Response:
    out = io.StringIO()
    writer = csvexport.writer(out)
    writer.writerow(["priority", "total", "met", "breached", "pending", "met_share", "breached_share",
                     "median_reaction_hours"])
    for row in [*report.rows, report.total]:
        writer.writerow([row.priority, row.total, row.met, row.breached, row.pending,
                         "" if row.met_share is None else row.met_share,
                         "" if row.breached_share is None else row.breached_share,
                         "" if row.median_reaction_hours is None else row.median_reaction_hours])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="sla-{since}-{until}.csv"'})


# --- the ticket page -------------------------------------------------------------------------------

def _ticket_page(request, session, user, ticket_id: str, *, errors: dict | None = None, form: dict | None = None,
                 status_code: int = 200, notice: str | None = None):
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    sections = []
    for section in TICKET_PAGE_SECTIONS:
        rendered = section(request, session, user, ticket)
        if rendered is not None:
            sections.append(rendered)
    now = utcnow()
    workers = [u for u in accounts.list_users(session=session) if u.is_active and policy.allows(u, "ticket.queue")] \
        if policy.allows(user, "ticket.assign", ticket) else []
    return web.render(request, "tickets/view.html", {
        "ticket": ticket, "events": service.history(session=session, ticket=ticket, user=user),
        "offered": steps.offered(ticket, user), "breached": sla_breached(ticket, now=now),
        "paused": dt.timedelta(seconds=int(ticket.paused_total(now).total_seconds())),
        "duration": lambda delta: duration_text(delta, web.language(request)),
        "defer_reasons": [r.value for r in DeferReason], "priorities": [p.value for p in Priority],
        "workers": workers, "sections": sections, "errors": errors or {}, "form": form or {},
        "notice": notice, "staff": policy.allows(user, "ticket.view_internal", ticket),
    }, status_code=status_code)


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, user: CurrentUser, session: SessionDep, ticket_id: str, created: int = 0):
    return _ticket_page(request, session, user, ticket_id,
                        notice=i18n.translate("ticket.created_notice", web.language(request)) if created else None)


def _act(request, session, user, ticket_id: str, form: dict, action, done=None):
    """Run a page action on the ticket; on a refusal show the ticket page again with the message; on success
    go back to the ticket with a message saying what happened (``done(ticket, t)`` → text)."""
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    try:
        action(ticket)
    except PortalError as exc:
        if exc.status_code in (401, 404):
            raise
        session.rollback()
        return _ticket_page(request, session, user, ticket_id, errors=web.form_errors(exc), form=form,
                            status_code=exc.status_code)
    response = web.redirect(f"/tickets/{ticket.id}")
    if done is not None:
        lang = web.language(request)
        web.flash(request, response, done(ticket, lambda key, **values: i18n.translate(key, lang, **values)))
    return response


def _assignee_done(ticket, t) -> str:
    if ticket.assignee is None:
        return t("flash.unassigned", id=ticket.id)
    return t("flash.assigned", id=ticket.id, name=ticket.assignee.display_name)


@router.post("/tickets/{ticket_id}/take")
def take_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, ticket_id: str):
    return _act(request, session, user, ticket_id, {}, lambda ticket: service.take(
        session=session, settings=settings, ticket=ticket, actor=user),
        done=lambda ticket, t: t("flash.taken", id=ticket.id, status=t(f"status.{ticket.status}")))


# --- one screen per step of the workflow ------------------------------------------------------------

def _step_for(session, user, ticket_id: str, name: str):
    """The ticket and the step called ``name`` from its status now (None when there is none now); a step the
    portal does not know, or a ticket the reader may not see, is not there; one the reader may not take, 403."""
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    if name not in steps.NAMES:
        raise not_found("object")
    step = steps.find(ticket, name)
    if step is not None:
        policy.require(user, step.transition.action, ticket)
    return ticket, step


def _step_gone(request, ticket, name: str):
    """The ticket moved on since the page was opened (or the step never applied to this status): back to the
    ticket, saying so, rather than an error page."""
    lang = web.language(request)
    response = web.redirect(f"/tickets/{ticket.id}")
    web.flash(request, response, i18n.translate(
        "flow.unavailable", lang, step=i18n.translate(f"flow.step.{name}", lang),
        status=i18n.translate(f"status.{ticket.status}", lang)))
    return response


def _step_page(request, session, user, ticket, step, *, form: dict | None = None, errors: dict | None = None,
               status_code: int = 200):
    blockers = workflow.close_blockers(session=session, ticket=ticket) if step.name == "close" else []
    staff = policy.allows(user, "ticket.view_internal", ticket)
    form = dict(form or {})
    if step.name == "defer" and not form.get("defer_reason") and ticket.version_unsupported:
        form["defer_reason"] = DeferReason.unsupported_version.value
    return web.render(request, "tickets/step.html", {
        "ticket": ticket, "step": step, "form": form, "errors": errors or {}, "staff": staff,
        "defer_reasons": [r.value for r in DeferReason], "blockers": blockers,
        "may_override": bool(blockers) and policy.allows(user, "ticket.override_delivery", ticket),
    }, status_code=status_code)


@router.get("/tickets/{ticket_id}/act/{name}")
def step_form(request: Request, user: CurrentUser, session: SessionDep, ticket_id: str, name: str,
              solution_from: Annotated[str, Query(max_length=32)] = ""):
    ticket, step = _step_for(session, user, ticket_id, name)
    if step is None:
        return _step_gone(request, ticket, name)
    form = {}
    if solution_from and "solution" in step.fields:
        # «Использовать решение» of a similar solved ticket: its cause, solution and workaround, for the reader to
        # check before sending (a ticket the reader may not see is not there)
        source = service.get_ticket(session=session, ticket_id=solution_from, user=user)
        form = {"cause": source.resolution_cause, "solution": source.resolution_solution,
                "workaround": source.resolution_workaround, "solution_from": source.id}
    return _step_page(request, session, user, ticket, step, form=form)


@router.post("/tickets/{ticket_id}/act/{name}")
def step_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, ticket_id: str,
                name: str, comment: Text = "", reason: Text = "", defer_reason: Annotated[str, Form(max_length=40)] = "",
                cause: Text = "", solution: Text = "", workaround: Text = "",
                override: Annotated[bool, Form()] = False):
    ticket, step = _step_for(session, user, ticket_id, name)
    if step is None:
        return _step_gone(request, ticket, name)
    form = {"comment": comment, "reason": reason, "defer_reason": defer_reason, "cause": cause,
            "solution": solution, "workaround": workaround, "override": override}
    lang = web.language(request)
    try:
        if step.name == "defer" and defer_reason not in {r.value for r in DeferReason}:
            raise Invalid.fields({"defer_reason": i18n.translate("flow.error.defer_reason", lang)})
        if step.name == "take":
            service.take(session=session, settings=settings, ticket=ticket, actor=user)
        else:
            service.change_status(session=session, settings=settings, ticket=ticket, actor=user, status=step.target,
                                  comment=comment, reason=defer_reason if step.name == "defer" else reason,
                                  cause=cause, solution=solution, workaround=workaround, override=override)
    except PortalError as exc:
        if exc.status_code in (401, 404):
            raise
        session.rollback()
        errors = web.form_errors(exc)
        if exc.extra.get("blockers"):  # the page lists them and says who can close anyway
            errors = {"_": i18n.translate("flow.close.blocked", lang)}
        elif step.name == "defer" and "reason" in errors:
            errors["defer_reason"] = errors.pop("reason")
        ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
        return _step_page(request, session, user, ticket, step, form=form, errors=errors,
                          status_code=exc.status_code)
    response = web.redirect(f"/tickets/{ticket.id}")
    web.flash(request, response, i18n.translate(f"flow.done.{step.name}", lang, id=ticket.id,
                                                status=i18n.translate(f"status.{ticket.status}", lang)))
    return response


@router.post("/tickets/{ticket_id}/priority")
def priority_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                    ticket_id: str, priority: Annotated[str, Form(max_length=20)] = "", reason: Text = ""):
    return _act(request, session, user, ticket_id, {"priority": priority, "priority_reason": reason},
                lambda ticket: service.correct_priority(session=session, settings=settings, ticket=ticket,
                                                        actor=user, priority=priority, reason=reason),
                done=lambda ticket, t: t("flash.priority", id=ticket.id, priority=t(f"priority.{ticket.priority}")))


@router.post("/tickets/{ticket_id}/comments")
def comment_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                   database: DatabaseDep, ticket_id: str, body: Text = "", internal: Annotated[bool, Form()] = False,
                   files: Annotated[list[UploadFile], File()] = [],  # noqa: B006 — FastAPI copies defaults
                   staged: Annotated[list[str], Form(max_length=staged_files.TOKEN_MAX)] = []):  # noqa: B006
    """A reply and its files in one form (a customer asked for a HAR file answers with it): the files go into
    the blob store with no transaction open, then the comment and the attachments in one short transaction.
    A refusal shows the page again with the reply as typed and the files kept (listed, each removable)."""
    uploads = [upload for upload in files if upload.filename]
    if uploads or staged:  # may this reader attach here, before any bytes are stored (a read transaction)
        with database.session_scope(write=False) as reader:
            ticket = service.get_ticket(session=reader, ticket_id=ticket_id, user=user)
            policy.require(user, "ticket.attach", ticket)
    kept, refused = _keep_uploads(settings, user, staged, uploads)
    form = {"body": body, "internal": internal, "kept": kept}
    if refused is not None:
        return _ticket_page(request, session, user, ticket_id, errors=_file_errors(refused, "files"), form=form,
                            status_code=422 if refused.error.status_code == 413 else refused.error.status_code)

    def action(ticket):
        if body.strip() or not kept:
            service.add_comment(session=session, settings=settings, ticket=ticket, actor=user, body=body,
                                public=not internal)
        for staged_file in kept:
            service.add_attachment(session=session, settings=settings, ticket=ticket, actor=user,
                                   stored_file=staged_file.stored, content_type=staged_file.content_type)

    def done(ticket, t) -> str:
        names = ", ".join(f"«{staged_file.filename}»" for staged_file in kept)
        if kept and body.strip():
            return t("flow.done.reply_with_files", id=ticket.id, names=names)
        if kept:
            return t("flow.done.files", id=ticket.id, names=names)
        return t("flash.comment_internal" if internal else "flash.comment", id=ticket.id)

    return _act(request, session, user, ticket_id, form, action, done=done)


@router.post("/tickets/{ticket_id}/eta")
def eta_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, ticket_id: str,
               eta: Annotated[str, Form(max_length=40)] = "", eta_comment: Text = ""):
    def action(ticket):
        policy.require(user, "ticket.set_eta", ticket)
        service.set_eta(session=session, ticket=ticket, actor=user, eta=service.parse_eta(eta, settings.timezone),
                        comment=eta_comment)

    return _act(request, session, user, ticket_id, {"eta": eta, "eta_comment": eta_comment}, action,
                done=lambda ticket, t: t("flash.eta", id=ticket.id,
                                         eta=web.localtime_text(ticket.eta, settings.timezone)))


@router.post("/tickets/{ticket_id}/assign")
def assign_submit(request: Request, user: CurrentUser, session: SessionDep, ticket_id: str,
                  assignee: Annotated[str, Form(max_length=150)] = ""):
    return _act(request, session, user, ticket_id, {}, lambda ticket: service.assign(
        session=session, ticket=ticket, actor=user, assignee=assignee or None), done=_assignee_done)


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
def attachment_download(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                        ticket_id: str, attachment_id: RowId):
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    return attachment_response(settings, service.get_attachment(session=session, ticket=ticket,
                                                                attachment_id=attachment_id), request)


# --- the catalogue -----------------------------------------------------------------------------------

def _catalogue_page(request, session, *, errors: dict | None = None, form: dict | None = None, status_code=200):
    return web.render(request, "tickets/catalogue.html", {
        "modules": service.list_modules(session=session), "versions": service.list_versions(session=session),
        "errors": errors or {}, "form": form or {}}, status_code=status_code)


@router.get("/admin/catalogue")
def catalogue_page(request: Request, user: CurrentUser, session: SessionDep):
    policy.require(user, "catalogue.manage")
    return _catalogue_page(request, session)


def _catalogue_act(request, session, user, form: dict, prefix: str, action):
    policy.require(user, "catalogue.manage")
    try:
        action()
    except PortalError as exc:
        session.rollback()
        errors = {f"{prefix}_{k}": v for k, v in web.form_errors(exc).items()}
        return _catalogue_page(request, session, errors=errors, form=form, status_code=exc.status_code)
    return web.redirect("/admin/catalogue")


@router.post("/admin/catalogue/modules")
def catalogue_add_module(request: Request, user: CurrentUser, session: SessionDep,
                         name: Annotated[str, Form(max_length=200)] = "",
                         description: Annotated[str, Form(max_length=2000)] = ""):
    return _catalogue_act(request, session, user, {"module_name": name, "module_description": description}, "module",
                          lambda: service.add_module(session=session, actor=user, name=name, description=description))


@router.post("/admin/catalogue/versions")
def catalogue_add_version(request: Request, user: CurrentUser, session: SessionDep,
                          name: Annotated[str, Form(max_length=60)] = "",
                          unsupported: Annotated[bool, Form()] = False):
    return _catalogue_act(request, session, user, {"version_name": name}, "version",
                          lambda: service.add_version(session=session, actor=user, name=name,
                                                      supported=not unsupported))


@router.post("/admin/catalogue/versions/{name}/support")
def catalogue_version_support(request: Request, user: CurrentUser, session: SessionDep, name: str,
                              supported: Annotated[bool, Form()] = False):
    return _catalogue_act(request, session, user, {}, "version", lambda: service.set_version_supported(
        session=session, actor=user, name=name, supported=supported))


# --- the dashboard ---------------------------------------------------------------------------------

def dashboard_section(request, session, user):
    """The reader's work on tickets: the customer's tickets that ask something of them; second line's
    tickets waiting for a reaction (most urgent first) and for their answer; the third line's escalated
    tickets (no planned date first); QA's tickets awaiting verification."""
    lang, now = web.language(request), utcnow()
    if policy.allows(user, "ticket.queue"):
        context: dict = {"summary": None, "reaction": [], "answer": [], "escalated": [], "verification": []}
        if policy.allows(user, "ticket.triage"):
            context.update(summary=service.queue_summary(session=session),
                           reaction=_rows(worklists.awaiting_reaction(session=session, user=user), lang, now),
                           answer=_rows(worklists.awaiting_my_answer(session=session, user=user), lang, now))
        elif policy.allows(user, "ticket.set_eta"):
            context["escalated"] = worklists.in_status(session=session, user=user, status=Status.escalated.value)
        elif policy.allows(user, "ticket.verify"):
            context["verification"] = worklists.in_status(session=session, user=user,
                                                          status=Status.in_verification.value)
        return "tickets/_dashboard_queue.html", context
    if policy.allows(user, "ticket.view") and not policy.allows(user, "ticket.view_internal"):
        return "tickets/_dashboard_customer.html", {"tickets": worklists.customer_tickets(session=session, user=user)}
    return None

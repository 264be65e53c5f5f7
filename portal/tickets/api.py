"""JSON API of tickets and the product catalogue: parse → service → shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import Response

from portal import openapi, policy
from portal.db import utcnow
from portal.deps import CurrentUser, DatabaseDep, SessionDep, SettingsDep, verify_csrf
from portal.tickets import attachments, service
from portal.tickets.schemas import (
    AssignBody,
    CommentCreate,
    EtaSet,
    ModuleCreate,
    PriorityChange,
    StatusChange,
    TicketCreate,
    VersionCreate,
    attachment_out,
    event_out,
    ticket_out,
    ticket_summary,
)
from portal.validation import RowId

router = APIRouter(prefix="/api/v1", tags=["tickets"], dependencies=[Depends(verify_csrf)])


def _full(session, ticket, user) -> dict:
    return ticket_out(ticket, user=user, now=utcnow(),
                      events=service.history(session=session, ticket=ticket, user=user))


@router.post("/tickets", status_code=201, summary="Register a ticket")
def register(body: TicketCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> dict:
    contact = body.contact
    data = service.TicketInput(
        kind=body.kind, module=body.module, product_version=body.product_version, summary=body.summary,
        description=body.description, steps_to_reproduce=body.steps_to_reproduce, priority=body.priority,
        contact_name=contact.name if contact else None, contact_email=contact.email if contact else None,
        contact_phone=contact.phone if contact else None, organization=body.organization, channel=body.channel,
    )
    ticket = service.register(session=session, settings=settings, actor=user, data=data)
    return _full(session, ticket, user)


@router.get("/tickets", summary="Tickets the reader may see, newest first (filters as query parameters)")
def list_tickets(
    user: CurrentUser, session: SessionDep,
    organization: str | None = None, priority: str | None = None,
    status: Annotated[str | None, Query(description="A status, or `open`")] = None,
    module: str | None = None, kind: str | None = None,
    assignee: Annotated[str | None, Query(description="Username, or `none`")] = None,
    order: Annotated[str, Query(pattern="^(newest|arrival)$", description="`arrival`: the queue's order")] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict]:
    filters = service.TicketFilters(organization=organization, priority=priority, status=status, module=module,
                                    kind=kind, assignee=assignee)
    if order == "arrival":
        tickets = service.queue(session=session, user=user, filters=filters, limit=limit, offset=offset)
    else:
        tickets = service.list_tickets(session=session, user=user, filters=filters, limit=limit, offset=offset)
    now = utcnow()
    return [ticket_summary(t, now=now) for t in tickets]


@router.get("/tickets/sla-report", summary="SLA report for a period: by priority, met / breached, median reaction")
def sla_report(user: CurrentUser, session: SessionDep, settings: SettingsDep, since: str, until: str) -> dict:
    start, end = service.parse_period(since, until, settings.timezone)
    report = service.sla_report(session=session, settings=settings, user=user, since=start, until=end)
    rows = [*report.rows, report.total]
    return {"since": report.since.isoformat(), "until": report.until.isoformat(),
            "rows": [{"priority": r.priority, "total": r.total, "met": r.met, "breached": r.breached,
                      "pending": r.pending, "met_share": r.met_share, "breached_share": r.breached_share,
                      "median_reaction_hours": r.median_reaction_hours} for r in rows]}


@router.get("/tickets/{ticket_id}", summary="A ticket with the history the reader may see")
def get_ticket(ticket_id: str, user: CurrentUser, session: SessionDep) -> dict:
    return _full(session, service.get_ticket(session=session, ticket_id=ticket_id, user=user), user)


@router.get("/tickets/{ticket_id}/events", summary="The ticket's history (internal comments for staff only)")
def events(ticket_id: str, user: CurrentUser, session: SessionDep) -> list[dict]:
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    return [event_out(e) for e in service.history(session=session, ticket=ticket, user=user)]


@router.post("/tickets/{ticket_id}/status", summary="Move the ticket along the workflow (409 lists allowed states)")
def change_status(ticket_id: str, body: StatusChange, user: CurrentUser, session: SessionDep,
                  settings: SettingsDep) -> dict:
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    service.change_status(session=session, settings=settings, ticket=ticket, actor=user, status=body.status,
                          comment=body.comment, reason=body.reason, cause=body.cause, solution=body.solution,
                          workaround=body.workaround, override=body.override)
    return _full(session, ticket, user)


@router.post("/tickets/{ticket_id}/priority", summary="Correct the priority, with a reason the customer sees")
def correct_priority(ticket_id: str, body: PriorityChange, user: CurrentUser, session: SessionDep,
                     settings: SettingsDep) -> dict:
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    service.correct_priority(session=session, settings=settings, ticket=ticket, actor=user,
                             priority=body.priority, reason=body.reason)
    return _full(session, ticket, user)


@router.post("/tickets/{ticket_id}/comments", status_code=201, summary="A public or internal comment")
def comment(ticket_id: str, body: CommentCreate, user: CurrentUser, session: SessionDep,
            settings: SettingsDep) -> dict:
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    event = service.add_comment(session=session, settings=settings, ticket=ticket, actor=user, body=body.body,
                                public=body.public)
    return {**event_out(event), "ticket_status": ticket.status}


@router.post("/tickets/{ticket_id}/eta", summary="Set the planned resolution date (developers)")
def set_eta(ticket_id: str, body: EtaSet, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> dict:
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    policy.require(user, "ticket.set_eta", ticket)
    eta = service.parse_eta(body.eta, settings.timezone)
    service.set_eta(session=session, ticket=ticket, actor=user, eta=eta, comment=body.comment)
    return _full(session, ticket, user)


@router.post("/tickets/{ticket_id}/assign", summary="Assign the ticket to a member of staff (or nobody)")
def assign(ticket_id: str, body: AssignBody, user: CurrentUser, session: SessionDep) -> dict:
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    service.assign(session=session, ticket=ticket, actor=user, assignee=body.assignee)
    return _full(session, ticket, user)


@router.post("/tickets/{ticket_id}/attachments", status_code=201, summary="Attach a file (multipart field `file`)")
def attach(ticket_id: str, file: Annotated[UploadFile, File()], user: CurrentUser, session: SessionDep,
           settings: SettingsDep, database: DatabaseDep) -> dict:
    # Asked in a read transaction first, so nobody stores bytes for a ticket they may not touch; the bytes are
    # then stored with no transaction open, and only the rows are written under the write lock.
    with database.session_scope(write=False) as reader:
        service.get_ticket(session=reader, ticket_id=ticket_id, user=user)
    stored = attachments.store_file(settings=settings, filename=file.filename or "", stream=file.file)
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    attachment = service.add_attachment(session=session, settings=settings, ticket=ticket, actor=user,
                                        stored_file=stored, content_type=file.content_type)
    return attachment_out(ticket, attachment)


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}", summary="Download an attachment (Range, ETag)",
            response_class=Response, responses=openapi.binary_responses())
def download(ticket_id: str, attachment_id: RowId, request: Request, user: CurrentUser, session: SessionDep,
             settings: SettingsDep) -> Response:
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    return attachment_response(settings, service.get_attachment(session=session, ticket=ticket,
                                                                attachment_id=attachment_id), request)


def attachment_response(settings, attachment, request: Request) -> Response:
    """The attachment's bytes from the blob store, one byte range at most (``attachments.download_response``)."""
    asked = request.headers
    return attachments.download_response(settings=settings, attachment=attachment, range_header=asked.get("range"),
                                         if_none_match=asked.get("if-none-match"), if_range=asked.get("if-range"))


# --- the catalogue --------------------------------------------------------------------------------

@router.get("/catalogue/modules", summary="Product modules")
def modules(user: CurrentUser, session: SessionDep) -> list[dict]:
    policy.require(user, "ticket.view")
    return [{"name": m.name, "description": m.description} for m in service.list_modules(session=session)]


@router.post("/catalogue/modules", status_code=201, summary="Add a product module (admin)")
def add_module(body: ModuleCreate, user: CurrentUser, session: SessionDep) -> dict:
    policy.require(user, "catalogue.manage")
    module = service.add_module(session=session, actor=user, name=body.name, description=body.description)
    return {"name": module.name, "description": module.description}


@router.get("/catalogue/versions", summary="Product versions, supported or not")
def versions(user: CurrentUser, session: SessionDep) -> list[dict]:
    policy.require(user, "ticket.view")
    return [{"name": v.name, "supported": v.supported} for v in service.list_versions(session=session)]


@router.post("/catalogue/versions", status_code=201, summary="Add a product version (admin)")
def add_version(body: VersionCreate, user: CurrentUser, session: SessionDep) -> dict:
    policy.require(user, "catalogue.manage")
    version = service.add_version(session=session, actor=user, name=body.name, supported=body.supported)
    return {"name": version.name, "supported": version.supported}

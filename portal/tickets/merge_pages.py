"""Pages and API of merging a duplicate into the original (``portal.tickets.merge``): the form, the confirmation,
the ticket page's part (what was merged where, the contacts merged duplicates brought), ``POST /api/v1/…/merge``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from pydantic import BaseModel, Field

from portal import i18n, policy, web
from portal.db import utcnow
from portal.deps import CurrentUser, SessionDep, SettingsDep, verify_csrf
from portal.errors import PortalError
from portal.tickets import merge, service
from portal.tickets.models import Ticket
from portal.tickets.registration import TEXT_MAX
from portal.tickets.schemas import ticket_out

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
api_router = APIRouter(prefix="/api/v1", tags=["tickets"], dependencies=[Depends(verify_csrf)])

Into = Annotated[str, Form(max_length=40)]
Comment = Annotated[str, Form(max_length=TEXT_MAX)]


def _example(settings) -> str:
    year = dt.datetime.now(ZoneInfo(settings.timezone)).year
    return f"{settings.ticket_prefix}-{year}-00042"


def _form_page(request, session, settings, user, ticket: Ticket, *, form: dict | None = None,
               errors: dict | None = None, status_code: int = 200):
    return web.render(request, "tickets/merge.html", {
        "ticket": ticket, "form": form or {}, "errors": errors or {}, "example": _example(settings),
        "candidates": merge.candidates(session=session, duplicate=ticket),
    }, status_code=status_code)


def _merge_target(session, user, ticket_id: str) -> Ticket:
    """The duplicate, which the reader must see (else 404) and may merge (else 403)."""
    ticket = service.get_ticket(session=session, ticket_id=ticket_id, user=user)
    policy.require(user, "ticket.merge", ticket)
    return ticket


@router.get("/tickets/{ticket_id}/merge")
def merge_form(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, ticket_id: str,
               into: str = ""):
    ticket = _merge_target(session, user, ticket_id)
    return _form_page(request, session, settings, user, ticket, form={"into": into[:40]})


def _confirmation(request, plan: merge.MergePlan, comment: str):
    lang = web.language(request)

    def t(key: str, **values) -> str:
        return i18n.translate(key, lang, **values)

    duplicate, original = plan.duplicate, plan.original
    details = [t("merge.confirm_original", original=original.id, summary=original.summary,
                 status=t(f"status.{original.status}")),
               t("merge.confirm_comments", original=original.id, count=plan.comments),
               t("merge.confirm_files", original=original.id, names=", ".join(f"«{n}»" for n in plan.attachments))
               if plan.attachments else t("merge.confirm_no_files")]
    if plan.contacts:
        details.append(t("merge.confirm_contacts", original=original.id,
                         contacts="; ".join(c.describe() for c in plan.contacts)))
    details.append(t("merge.confirm_mail", duplicate=duplicate.id, original=original.id))
    return web.render(request, "confirm.html", {"confirm": {
        "title": t("merge.confirm_title", duplicate=duplicate.id, original=original.id),
        "lead": t("merge.confirm_lead", duplicate=duplicate.id, original=original.id), "details": details,
        "action": f"/tickets/{duplicate.id}/merge", "fields": {"into": original.id, "comment": comment},
        "button": t("merge.confirm_button"), "cancel": f"/tickets/{duplicate.id}", "danger": True}})


@router.post("/tickets/{ticket_id}/merge")
def merge_submit(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep, ticket_id: str,
                 into: Into = "", comment: Comment = "", confirmed: Annotated[bool, Form()] = False):
    """First the check and the confirmation page (what moves, who is told); with ``confirmed`` the merge."""
    ticket = _merge_target(session, user, ticket_id)
    form = {"into": into, "comment": comment}
    try:
        if not confirmed:
            return _confirmation(request, merge.plan(session=session, duplicate=ticket, original_id=into,
                                                     actor=user), comment)
        done = merge.merge(session=session, settings=settings, duplicate=ticket, original_id=into, actor=user,
                           comment=comment)
    except PortalError as exc:
        if exc.status_code in (401, 403):
            raise
        session.rollback()
        errors = web.form_errors(exc)
        if "_" in errors:  # a refusal about the number typed is said beside it
            errors = {"into": errors.pop("_"), **errors}
        ticket = _merge_target(session, user, ticket_id)
        return _form_page(request, session, settings, user, ticket, form=form, errors=errors,
                          status_code=exc.status_code)
    response = web.redirect(f"/tickets/{done.original.id}")
    web.flash(request, response, i18n.translate("merge.done", web.language(request), duplicate=done.duplicate.id,
                                                original=done.original.id))
    return response


def ticket_section(request, session, user, ticket):
    """Tickets' own TICKET_PAGE_SECTIONS entry: «merged into …» / «merged with …», the contacts merged duplicates
    brought, and the way to merge this ticket for second line."""
    merged_from = merge.merged_from(session=session, ticket=ticket)
    contacts = merge.extra_contacts(session=session, ticket=ticket)
    may_merge = policy.allows(user, "ticket.merge", ticket) and not ticket.merged_into_id
    if not (ticket.merged_into_id or merged_from or contacts or may_merge):
        return None
    return "tickets/_merge_section.html", {"merged_into": ticket.merged_into_id, "merged_from": merged_from,
                                           "extra_contacts": contacts, "may_merge": may_merge}


class MergeBody(BaseModel):
    into: str = Field(max_length=40, description="The ID of the ticket that stays (same organisation, open)")
    comment: str = Field("", max_length=TEXT_MAX, description="Said in both tickets' history; the customer sees it")


@api_router.post("/tickets/{ticket_id}/merge",
                 summary="Merge this ticket (a duplicate) into another of the same organisation; returns the original")
def merge_api(ticket_id: str, body: MergeBody, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> dict:
    ticket = _merge_target(session, user, ticket_id)
    done = merge.merge(session=session, settings=settings, duplicate=ticket, original_id=body.into, actor=user,
                       comment=body.comment)
    original = service.get_ticket(session=session, ticket_id=done.original.id, user=user)
    return {**ticket_out(original, user=user, now=utcnow(),
                         events=service.history(session=session, ticket=original, user=user)),
            "merged": {"duplicate": done.duplicate.id, "comments": done.comments,
                       "attachments": list(done.attachments), "contacts": [c.describe() for c in done.contacts]}}

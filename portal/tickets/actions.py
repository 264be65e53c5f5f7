"""Working a ticket: the regulation's workflow applied, comments, priority corrections, ETA, assignment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import policy
from portal.accounts.models import User
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Conflict, Invalid
from portal.i18n import Joined, message
from portal.policy import Actor
from portal.tickets import sla, workflow
from portal.tickets.history import record_event
from portal.tickets.labels import DEFER_REASONS, STATUS_NAMES
from portal.tickets.labels import choices as _choices
from portal.tickets.merged import refuse_if_merged
from portal.tickets.models import (
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Priority,
    Status,
    Ticket,
    TicketEvent,
)
from portal.timeutil import DateOutOfRange, parse_local


def _is_support_staff(actor: Actor) -> bool:
    """Staff who work tickets (second and third line, QA): their public replies count as a reaction."""
    return policy.allows(actor, "ticket.comment_internal")


def _mark_reaction(ticket: Ticket, now: dt.datetime) -> None:
    if ticket.reacted_at is None:
        ticket.reacted_at = now
        ticket.sla_met = now <= ticket.sla_reaction_due


def apply_move(ticket: Ticket, target: str, *, settings: Settings, now: dt.datetime, comment: str = "",
          reason: str = "") -> None:
    """Apply a status change to the ticket's fields (pauses, suspension, information requests, plan); no event."""
    source = ticket.status
    was_paused, paused = source in PAUSED_STATUSES, target in PAUSED_STATUSES
    if was_paused and not paused and ticket.paused_since is not None:
        ticket.paused_seconds = int(ticket.paused_total(now).total_seconds())
        ticket.paused_since = None
    elif paused and not was_paused:
        ticket.paused_since = now
    if target == Status.suspended:
        ticket.status_before_suspension, ticket.suspend_reason = source, reason
    elif source == Status.suspended:
        ticket.status_before_suspension = None
    if target == Status.awaiting_info:
        if source != Status.suspended:
            ticket.info_request, ticket.info_requested_at = comment, now
        ticket.info_reminder_on = sla.next_reminder(settings, since=now)
    elif target != Status.suspended:
        ticket.info_reminder_on = None
    if target == Status.deferred:
        ticket.defer_reason = reason
    elif source == Status.deferred:
        ticket.defer_reason = None
    if target == Status.resolved:
        ticket.resolved_at = now
        if ticket.eta is not None:
            paused_during_plan = ticket.paused_seconds - (ticket.paused_seconds_at_eta or 0)
            ticket.eta_met = now <= ticket.eta + dt.timedelta(seconds=paused_during_plan)
    elif target == Status.closed:
        ticket.closed_at = now
    elif source in (Status.resolved, Status.closed, Status.deferred):  # reopened
        ticket.resolved_at = ticket.closed_at = ticket.eta_met = None
    ticket.status = target
    ticket.is_open = target in OPEN_STATUSES


def _required(transition: workflow.Transition, *, comment: str, reason: str, solution: str,
              workaround: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "comment" in transition.requires and not comment:
        if transition.target == Status.awaiting_info:
            errors["comment"] = message("errors_tickets.info_request_missing")
        else:
            errors["comment"] = message("errors_tickets.comment_reason_missing")
    if "reason" in transition.requires and not reason:
        errors["reason"] = message("errors_tickets.suspend_reason_missing" if transition.target == Status.suspended
                                   else "errors_tickets.reason_missing")
    if "defer_reason" in transition.requires and reason not in DEFER_REASONS:
        errors["reason"] = message("errors_tickets.defer_reason_missing")
    if "resolution" in transition.requires and not (solution or workaround):
        errors["solution"] = message("errors_tickets.solution_missing")
    return errors


def change_status(*, session: Session, settings: Settings, ticket: Ticket, actor: Actor, status: str,
                  comment: str = "", reason: str = "", cause: str = "", solution: str = "", workaround: str = "",
                  override: bool = False, now: dt.datetime | None = None) -> Ticket:
    """Move the ticket along the regulation's workflow; 409 naming the allowed next statuses otherwise."""
    now = now or utcnow()
    comment, reason = (comment or "").strip(), (reason or "").strip()
    solution, workaround, cause = (solution or "").strip(), (workaround or "").strip(), (cause or "").strip()
    if status not in Status.__members__:
        raise Invalid.fields({"status": message("error.input.choice", expected=_choices(Status))})
    refuse_if_merged(ticket)
    transition = workflow.find(ticket, status)
    if transition is None:
        allowed = workflow.allowed_targets(ticket, actor)
        names = Joined([STATUS_NAMES[s] for s in allowed], ", ") if allowed else message("errors_tickets.no_transitions")
        raise Conflict(message("errors_tickets.transition_refused", current=STATUS_NAMES[ticket.status],
                               target=STATUS_NAMES[status], allowed=names),
                       extra={"status": ticket.status, "allowed": allowed})
    policy.require(actor, transition.action, ticket)
    errors = _required(transition, comment=comment, reason=reason, solution=solution, workaround=workaround)
    if errors:
        raise Invalid.fields(errors)
    details: dict[str, Any] = {}
    if status == Status.closed:
        blockers = workflow.close_blockers(session=session, ticket=ticket)
        if blockers and not override:
            raise Conflict(message("errors_tickets.close_blocked", blockers=Joined(blockers, " ")),
                           extra={"blockers": blockers, "allowed": []})
        if blockers:
            policy.require(actor, "ticket.override_delivery", ticket)
            if not reason:
                raise Invalid.fields({"reason": message("errors_tickets.override_reason_missing",
                                                        blockers=Joined(blockers, " "))})
            details.update(override=True, blockers=blockers)
    if reason:
        details["reason"] = reason
    if status == Status.deferred:
        details["reason_text"] = DEFER_REASONS[reason]
    if status == Status.resolved:
        ticket.resolution_cause, ticket.resolution_solution, ticket.resolution_workaround = cause, solution, workaround
        details.update(cause=cause, solution=solution, workaround=workaround)
    source = ticket.status
    apply_move(ticket, status, settings=settings, now=now, comment=comment, reason=reason)
    if source == Status.new and _is_support_staff(actor):
        _mark_reaction(ticket, now)
    if status == Status.resolved and ticket.eta_met is not None:
        details["eta_met"] = ticket.eta_met
    record_event(session=session, ticket=ticket, actor=actor, kind="status", comment=comment or reason,
                 from_status=source, to_status=status, details=details, now=now)
    return ticket


def correct_priority(*, session: Session, settings: Settings, ticket: Ticket, actor: Actor, priority: str,
                     reason: str, now: dt.datetime | None = None) -> Ticket:
    """Second line corrects the priority with a reason; the reaction deadline is recomputed from registration."""
    policy.require(actor, "ticket.correct_priority", ticket)
    reason = (reason or "").strip()
    errors = {}
    if priority not in Priority.__members__:
        errors["priority"] = message("error.input.choice", expected=_choices(Priority))
    elif priority == ticket.priority:
        errors["priority"] = message("errors_tickets.same_priority")
    if not reason:
        errors["reason"] = message("errors_tickets.priority_reason_missing")
    if errors:
        raise Invalid.fields(errors)
    before, due_before = ticket.priority, ticket.sla_reaction_due
    ticket.priority = priority
    ticket.sla_reaction_due = sla.reaction_due(settings, registered_at=ticket.registered_at, priority=priority)
    if ticket.reacted_at is not None:
        ticket.sla_met = ticket.reacted_at <= ticket.sla_reaction_due
    record_event(session=session, ticket=ticket, actor=actor, kind="priority", comment=reason,
                 details={"from": before, "to": priority, "reason": reason,
                          "sla_reaction_due_before": due_before, "sla_reaction_due": ticket.sla_reaction_due},
                 now=now)
    return ticket


def add_comment(*, session: Session, settings: Settings, ticket: Ticket, actor: Actor, body: str,
                public: bool = True, now: dt.datetime | None = None) -> TicketEvent:
    """A public or internal comment; staff's public reply is a reaction, the customer's answers a request."""
    now = now or utcnow()
    policy.require(actor, "ticket.comment", ticket)
    if not public:
        policy.require(actor, "ticket.comment_internal", ticket)
    refuse_if_merged(ticket)
    body = (body or "").strip()
    if not body:
        raise Invalid.fields({"body": message("errors_tickets.comment_missing")})
    staff = _is_support_staff(actor)
    if public and staff:
        _mark_reaction(ticket, now)
    event = record_event(session=session, ticket=ticket, actor=actor, kind="comment", comment=body, public=public,
                         now=now)
    if public and not staff and ticket.status == Status.awaiting_info:
        apply_move(ticket, Status.in_analysis.value, settings=settings, now=now)
        record_event(session=session, ticket=ticket, actor=actor, kind="status", comment="",
                     from_status=Status.awaiting_info.value, to_status=Status.in_analysis.value,
                     details={"by": "customer_reply"}, now=now)
    return event


def parse_eta(text: str, tz: str) -> dt.datetime:
    """An ETA from ISO 8601; a bare date means the end of that day in the portal's time zone."""
    try:
        value = parse_local(text, tz)
    except DateOutOfRange as exc:
        raise Invalid.fields({"eta": str(exc)}) from None
    except ValueError:
        value = None
    if value is None:
        raise Invalid.fields({"eta": message("errors_tickets.eta_format")})
    if len(text.strip()) == 10:
        value = value + dt.timedelta(hours=23, minutes=59)
    return value


def set_eta(*, session: Session, ticket: Ticket, actor: Actor, eta: dt.datetime, comment: str = "",
            now: dt.datetime | None = None) -> Ticket:
    """The developers set the planned resolution date; the customer sees it."""
    now = now or utcnow()
    policy.require(actor, "ticket.set_eta", ticket)
    if not ticket.is_open:
        raise Conflict(message("errors_tickets.eta_closed", status=STATUS_NAMES[ticket.status]),
                       extra={"status": ticket.status})
    if eta <= now:
        raise Invalid.fields({"eta": message("errors_tickets.eta_past")})
    before = ticket.eta
    ticket.eta, ticket.eta_set_at = eta, now
    ticket.paused_seconds_at_eta = int(ticket.paused_total(now).total_seconds())
    record_event(session=session, ticket=ticket, actor=actor, kind="eta", comment=(comment or "").strip(),
                 details={"eta": eta, "previous": before}, now=now)
    return ticket


def assign(*, session: Session, ticket: Ticket, actor: Actor, assignee: str | None,
           now: dt.datetime | None = None) -> Ticket:
    """Give the ticket to a member of staff who works tickets (or to nobody)."""
    policy.require(actor, "ticket.assign", ticket)
    person = None
    if assignee:
        person = session.scalar(select(User).where(User.username == assignee))
        if person is None or not person.is_active or not policy.allows(person, "ticket.queue"):
            raise Invalid.fields({"assignee": message("errors_tickets.assignee_not_staff", login=assignee)})
    if (person.id if person else None) == ticket.assignee_id:
        return ticket
    ticket.assignee_id, ticket.assignee = (person.id, person) if person else (None, None)
    record_event(session=session, ticket=ticket, actor=actor, kind="assigned", public=False,
                 details={"assignee": person.username if person else None}, now=now)
    return ticket


def take(*, session: Session, settings: Settings, ticket: Ticket, actor: Actor) -> Ticket:
    """Second line takes a ticket from the queue: assigned to them, and a new one goes into analysis."""
    assign(session=session, ticket=ticket, actor=actor, assignee=actor.username)
    if ticket.status == Status.new:
        change_status(session=session, settings=settings, ticket=ticket, actor=actor,
                      status=Status.in_analysis.value)
    return ticket

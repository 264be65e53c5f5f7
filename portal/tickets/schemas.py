"""Request bodies of the tickets API and the JSON shape of a ticket.

Request fields are deliberately lenient strings: required-ness and allowed values are checked by the
service, so the API and the web form answer with the same Russian messages naming each field.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from portal import policy
from portal.tickets import workflow
from portal.tickets.models import Ticket, TicketAttachment, TicketEvent

TEXT = 20_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(Strict):
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)


class TicketCreate(Strict):
    kind: str | None = Field(None, max_length=40, description="consultation, problem, access, suggestion")
    module: str | None = Field(None, max_length=120, description="A module from the catalogue")
    product_version: str | None = Field(None, max_length=40, description="A version from the catalogue")
    summary: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=TEXT)
    steps_to_reproduce: str | None = Field(None, max_length=TEXT, description="Required for a problem")
    priority: str | None = Field(None, max_length=20, description="critical, high, medium, low")
    contact: ContactIn | None = None
    organization: str | None = Field(None, max_length=64, description="Staff only: the customer organisation's slug")
    channel: str | None = Field(None, max_length=10, description="Staff only: email or phone (portal for customers)")


class StatusChange(Strict):
    status: str = Field(max_length=40)
    comment: str = Field("", max_length=TEXT)
    reason: str = Field("", max_length=TEXT, description="Suspension, reopening, override; for deferral one of "
                        "cannot_reproduce, no_information, out_of_scope, incorrect_question, unsupported_version")
    cause: str = Field("", max_length=TEXT)
    solution: str = Field("", max_length=TEXT)
    workaround: str = Field("", max_length=TEXT)
    override: bool = False


class PriorityChange(Strict):
    priority: str = Field(max_length=20)
    reason: str = Field("", max_length=TEXT)


class CommentCreate(Strict):
    body: str = Field("", max_length=TEXT)
    public: bool = True


class EtaSet(Strict):
    eta: str = Field(max_length=40, description="ISO 8601 date or date-time; without a zone, the portal's time zone")
    comment: str = Field("", max_length=TEXT)


class AssignBody(Strict):
    assignee: str | None = Field(None, max_length=150, description="Username; null to unassign")


class ModuleCreate(Strict):
    name: str = Field(max_length=120)
    description: str = Field("", max_length=2000)


class VersionCreate(Strict):
    name: str = Field(max_length=40)
    supported: bool = True


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def event_out(event: TicketEvent) -> dict:
    return {
        "id": event.id, "at": _iso(event.at), "actor": event.actor_name, "kind": event.kind,
        "from": event.from_status, "to": event.to_status, "comment": event.comment, "public": event.public,
        "details": event.details or {},
    }


def attachment_out(ticket: Ticket, attachment: TicketAttachment) -> dict:
    return {"id": attachment.id, "filename": attachment.filename, "size": attachment.size,
            "sha256": attachment.sha256, "content_type": attachment.content_type,
            "uploaded_at": _iso(attachment.uploaded_at), "uploaded_by": attachment.uploaded_by_name,
            "url": f"/api/v1/tickets/{ticket.id}/attachments/{attachment.id}"}


def ticket_summary(ticket: Ticket, *, now: dt.datetime) -> dict:
    """The fields of a ticket in lists."""
    return {
        "id": ticket.id,
        "organization": {"slug": ticket.organization.slug, "name": ticket.organization.name},
        "kind": ticket.kind, "module": ticket.module, "product_version": ticket.product_version,
        "version_unsupported": ticket.version_unsupported,
        "summary": ticket.summary, "priority": ticket.priority, "status": ticket.status,
        "channel": ticket.channel,
        "registered_at": _iso(ticket.registered_at), "updated_at": _iso(ticket.updated_at),
        "sla_reaction_due": _iso(ticket.sla_reaction_due), "reacted_at": _iso(ticket.reacted_at),
        "sla_met": ticket.sla_met, "sla_breached": sla_breached(ticket, now=now),
        "eta": _iso(ticket.eta),
        "assignee": ticket.assignee.username if ticket.assignee_id and ticket.assignee else None,
    }


def sla_breached(ticket: Ticket, *, now: dt.datetime) -> bool:
    if ticket.sla_met is not None:
        return not ticket.sla_met
    return now > ticket.sla_reaction_due


def ticket_out(ticket: Ticket, *, user, now: dt.datetime, events: list[TicketEvent] | None = None) -> dict:
    """The full ticket as the reader may see it."""
    out = ticket_summary(ticket, now=now)
    out.update({
        "description": ticket.description, "steps_to_reproduce": ticket.steps_to_reproduce,
        "contact": {"name": ticket.contact_name, "email": ticket.contact_email, "phone": ticket.contact_phone},
        "requester": ticket.requester.username if ticket.requester_id and ticket.requester else None,
        "paused_seconds": int(ticket.paused_total(now).total_seconds()),
        "paused_since": _iso(ticket.paused_since),
        "awaiting_info": {"question": ticket.info_request, "asked_at": _iso(ticket.info_requested_at),
                          "next_reminder": _iso(ticket.info_reminder_on)}
        if ticket.status == "awaiting_info" else None,
        "suspend_reason": ticket.suspend_reason if ticket.status == "suspended" else None,
        "status_before_suspension": ticket.status_before_suspension,
        "defer_reason": ticket.defer_reason,
        "eta_set_at": _iso(ticket.eta_set_at), "eta_met": ticket.eta_met,
        "resolved_at": _iso(ticket.resolved_at), "closed_at": _iso(ticket.closed_at),
        "resolution": {"cause": ticket.resolution_cause, "solution": ticket.resolution_solution,
                       "workaround": ticket.resolution_workaround},
        "allowed_transitions": workflow.allowed_targets(ticket, user),
        "can": {"comment": policy.allows(user, "ticket.comment", ticket),
                "comment_internal": policy.allows(user, "ticket.comment_internal", ticket),
                "set_eta": policy.allows(user, "ticket.set_eta", ticket),
                "correct_priority": policy.allows(user, "ticket.correct_priority", ticket),
                "assign": policy.allows(user, "ticket.assign", ticket),
                "attach": policy.allows(user, "ticket.attach", ticket)},
        "attachments": [attachment_out(ticket, a) for a in ticket.attachments],
    })
    if events is not None:
        out["history"] = [event_out(e) for e in events]
    return out

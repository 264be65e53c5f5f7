"""The tickets domain's service functions, gathered from the modules that own them.

A transitional facade: new code imports the module that owns a function — ``catalogue``, ``registration``,
``queue``, ``history``, ``actions``, ``attachments``, ``reports``, ``labels`` — and this file goes once no
importer outside the tickets domain is left. Plain functions, keyword-only, session first; they flush and
never commit; every change is an event in the ticket's history, audited in the same transaction.
"""

from __future__ import annotations

from portal.errors import Conflict, Invalid, NotFound
from portal.tickets.actions import (
    add_comment,
    apply_move,
    assign,
    change_status,
    correct_priority,
    parse_eta,
    set_eta,
    take,
)
from portal.tickets.attachments import FILENAME_MAX, add_attachment, check_filename, get_attachment
from portal.tickets.catalogue import (
    VERSION_RE,
    add_module,
    add_version,
    list_modules,
    list_versions,
    set_version_supported,
)
from portal.tickets.history import EVENT_LISTENERS, record_event
from portal.tickets.labels import DEFER_REASONS, FIELD_LABELS, STATUS_NAMES
from portal.tickets.queue import (
    QueueSummary,
    TicketFilters,
    get_ticket,
    get_ticket_unchecked,
    history,
    list_tickets,
    queue,
    queue_summary,
)
from portal.tickets.registration import EMAIL_RE, PHONE_RE, TEXT_MAX, TicketInput, allocate_id, register
from portal.tickets.reports import SlaReport, SlaRow, parse_period, sla_report

__all__ = [
    "Conflict", "Invalid", "NotFound",
    "DEFER_REASONS", "EMAIL_RE", "EVENT_LISTENERS", "FIELD_LABELS", "FILENAME_MAX", "PHONE_RE", "STATUS_NAMES",
    "TEXT_MAX", "VERSION_RE", "QueueSummary", "SlaReport", "SlaRow", "TicketFilters", "TicketInput",
    "add_attachment", "add_comment", "add_module", "add_version", "allocate_id", "apply_move", "assign",
    "change_status", "check_filename", "correct_priority", "get_attachment", "get_ticket", "get_ticket_unchecked",
    "history", "list_modules", "list_tickets", "list_versions", "parse_eta", "parse_period", "queue",
    "queue_summary", "record_event", "register", "set_eta", "set_version_supported", "sla_report", "take",
]

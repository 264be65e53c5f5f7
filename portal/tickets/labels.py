"""What people read about tickets: field labels, status names, the regulation's reasons of deferral."""

from __future__ import annotations

from portal.i18n import message
from portal.tickets.models import DeferReason, Status

# Human names of the fields, for 422 answers (``portal.wiring`` hands them to ``portal.validation``).
FIELD_LABELS = {name: message(f"field.{name}") for name in (
    "kind", "module", "product_version", "summary", "description", "steps_to_reproduce", "priority", "contact",
    "contact.name", "contact.email", "contact.phone", "organization", "channel", "status", "comment", "reason",
    "solution", "workaround", "body", "eta", "assignee", "filename", "file")}

STATUS_NAMES = {status.value: message(f"status.{status.value}") for status in Status}
# «Ограничения поддержки»: the regulation's words for each reason of deferral.
DEFER_REASONS = {reason.value: message(f"defer.{reason.value}") for reason in DeferReason}


def choices(enum_cls) -> str:
    """The values of an enumeration, for a message that lists what is allowed."""
    return ", ".join(e.value for e in enum_cls)

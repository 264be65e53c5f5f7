"""Tickets written straight into the table (as a migration or an import would): the labelled set and the
benchmark need hundreds to 100,000 of them, and the index reads only the table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert

from portal.db import utcnow
from portal.tickets.models import Ticket


def row(ticket_id: str, organization_id: int, *, summary: str, description: str, steps: str = "",
        module: str = "RUM-агент", version: str = "5.2", status: str = "closed", cause: str = "",
        solution: str = "", workaround: str = "", at: dt.datetime | None = None) -> dict[str, Any]:
    at = at or utcnow() - dt.timedelta(days=30)
    is_open = status not in ("resolved", "closed", "deferred")
    return {
        "id": ticket_id, "organization_id": organization_id, "channel": "portal", "kind": "problem",
        "module": module, "product_version": version, "version_unsupported": False, "summary": summary,
        "description": description, "steps_to_reproduce": steps, "contact_name": "Анна",
        "contact_email": "anna@example.test", "contact_phone": "", "priority": "medium", "status": status,
        "is_open": is_open, "registered_at": at, "updated_at": at, "sla_reaction_due": at + dt.timedelta(hours=96),
        "reacted_at": at + dt.timedelta(hours=1), "sla_met": True, "paused_seconds": 0, "paused_seconds_at_eta": 0,
        "suspend_reason": "", "info_request": "", "resolution_cause": cause, "resolution_solution": solution,
        "resolution_workaround": workaround, "resolved_at": None if is_open else at + dt.timedelta(days=2),
    }


def insert_rows(session, rows: list[dict[str, Any]], batch: int = 5000) -> None:
    for start in range(0, len(rows), batch):
        session.execute(insert(Ticket), rows[start:start + batch])

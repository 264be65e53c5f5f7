"""Registers notifications in other domains' hook lists; the app, the CLI and the jobs import it.

* tickets: ``EVENT_LISTENERS`` — every ticket event may write outbox rows in its own transaction.
"""

from __future__ import annotations

from portal.notify import service
from portal.tickets import service as tickets

if service.on_ticket_event not in tickets.EVENT_LISTENERS:
    tickets.EVENT_LISTENERS.append(service.on_ticket_event)

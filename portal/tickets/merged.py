"""A merged duplicate takes no more writing: its conversation goes on in the ticket it was merged into
(``portal.tickets.merge``). Asked by the tickets' own writers — comments, status changes, attachments — so the
portal, the API and the command line refuse alike; e-mail intake never gets here, it follows the merge."""

from __future__ import annotations

from portal.errors import Conflict
from portal.i18n import message


def refuse_if_merged(ticket) -> None:
    """409 naming the ticket to write to instead, when ``ticket`` was merged into another."""
    if getattr(ticket, "merged_into_id", None):
        raise Conflict(message("errors_merge.write_there", id=ticket.id, into=ticket.merged_into_id),
                       extra={"merged_into": ticket.merged_into_id})

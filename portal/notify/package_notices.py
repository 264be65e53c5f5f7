"""E-mail of releases' notices: a withdrawal or a replacement to the organisation that received the package, and
second line's reminder of a withdrawal notice nobody acknowledged (listeners added by ``portal.wiring``).

Each message names only the package, its replacement and the receiving organisation itself: the notice is about
one organisation, so another's name, tickets or counts never reach it.
"""

from __future__ import annotations

from typing import Any

from portal.notify import service

KIND_OF_NOTICE = {"withdrawn": "package_withdrawn", "superseded": "package_superseded"}


def _link(settings, path: str) -> str:
    return f"{settings.base_url.rstrip('/')}{path}"


def _context(settings, notice) -> dict[str, Any]:
    package, replacement = notice.package, notice.replacement
    return {
        "package": {"name": package.id, "title": package.title, "version": package.version},
        "replacement": {"name": replacement.id, "title": replacement.title,
                        "link": _link(settings, f"/packages/{replacement.id}")} if replacement is not None else None,
        "reason": notice.reason, "organization_name": notice.organization.name,
        "link": _link(settings, f"/packages/{package.id}"), "dashboard": _link(settings, "/"),
    }


def on_notice_sent(event) -> None:
    """Releases' NOTICE_SENT listener: the organisation's users who want package messages are told (once per
    package, organisation and kind)."""
    notice, session, settings = event.notice, event.session, event.settings
    kind = KIND_OF_NOTICE[notice.kind]
    if not service.mark_once(session=session, key=f"{kind}:{notice.package_id}:{notice.organization_id}",
                             now=event.at):
        return
    context = _context(settings, notice)
    for recipient in service.organization_recipients(session=session, organization_id=notice.organization_id):
        service.enqueue(session=session, settings=settings, kind=kind, recipient=recipient.address, context=context,
                        organization_id=notice.organization_id, user=recipient.user, now=event.at)


def on_notice_reminder(event) -> None:
    """Releases' NOTICE_REMINDER listener: second line is reminded that an organisation has not acknowledged a
    withdrawal notice (one message per reminder day)."""
    notice, session, settings = event.notice, event.session, event.settings
    key = f"withdrawal_unacknowledged:{notice.id}:{notice.reminders}"
    if not service.mark_once(session=session, key=key, now=event.at):
        return
    context = {**_context(settings, notice), "staff": True, "sent_at": notice.created_at,
               "reminders": notice.reminders, "board": _link(settings, "/deliveries#notices-unacknowledged")}
    for recipient in service.staff_recipients(session=session):
        service.enqueue(session=session, settings=settings, kind="withdrawal_unacknowledged",
                        recipient=recipient.address, context=context, organization_id=notice.organization_id,
                        user=recipient.user, now=event.at)

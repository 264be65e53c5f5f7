"""Pages of notifications: my e-mail preferences; for admins the outbox and the jobs; for second line held e-mail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request

from portal import i18n, jobs, policy, web
from portal.accounts import service as accounts
from portal.deps import CurrentUser, SessionDep, SettingsDep, verify_csrf
from portal.errors import PortalError, not_found
from portal.notify import intake, service, threads
from portal.notify.models import OutboxStatus
from portal.validation import RowId

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


def dashboard_section(request, session, user):
    """Second line sees how many e-mails wait for them; admins, how many messages could not be sent."""
    held = intake.count_held(session=session) if policy.allows(user, "intake.assign") else None
    counts = service.outbox_counts(session=session) if policy.allows(user, "outbox.manage") else None
    if held is None and counts is None:
        return None
    return "notify/_dashboard.html", {"held": held, "failed": counts["failed"] if counts else None,
                                      "pending": counts["pending"] if counts else 0}


@router.get("/account/notifications")
def preferences_page(request: Request, user: CurrentUser, session: SessionDep):
    return web.render(request, "notify/preferences.html",
                      {"prefs": service.get_preferences(session=session, user=user), "saved": False})


@router.post("/account/notifications")
def preferences_save(request: Request, user: CurrentUser, session: SessionDep,
                     ticket_updates: Annotated[bool, Form()] = False,
                     organization_tickets: Annotated[bool, Form()] = False,
                     packages: Annotated[bool, Form()] = False, staff_alerts: Annotated[bool, Form()] = False):
    choices = {"ticket_updates": ticket_updates, "packages": packages}
    if user.is_staff:
        choices["staff_alerts"] = staff_alerts
    else:
        choices["organization_tickets"] = organization_tickets
    prefs = service.set_preferences(session=session, actor=user, user=user, **choices)
    return web.render(request, "notify/preferences.html", {"prefs": prefs, "saved": True})


@router.get("/admin/outbox")
def outbox_page(request: Request, user: CurrentUser, session: SessionDep, status: str = ""):
    policy.require(user, "outbox.manage")
    return web.render(request, "notify/outbox.html", {
        "messages": service.list_outbox(session=session, status=status or None, limit=200),
        "counts": service.outbox_counts(session=session), "status": status,
        "statuses": [s.value for s in OutboxStatus],
    })


def _said(request, url: str, key: str, **values):
    """Back to ``url`` with a message saying what the action did and what follows (mail: whether it can go)."""
    lang = web.language(request)
    text = i18n.translate(key, lang, **values)
    if not request.app.state.settings.smtp_url:
        text += " " + i18n.translate("flow.mail.no_smtp", lang)
    response = web.redirect(url)
    web.flash(request, response, text)
    return response


@router.post("/admin/outbox/{message_id}/retry")
def outbox_retry(request: Request, message_id: RowId, user: CurrentUser, session: SessionDep):
    policy.require(user, "outbox.manage")
    message = service.retry(session=session, actor=user, message_id=message_id)
    return _said(request, "/admin/outbox", "flow.mail.retried", to=message.recipient)


@router.post("/admin/outbox/retry-failed")
def outbox_retry_failed(request: Request, user: CurrentUser, session: SessionDep):
    policy.require(user, "outbox.manage")
    count = service.retry_all_failed(session=session, actor=user)
    if not count:
        response = web.redirect("/admin/outbox")
        web.flash(request, response, i18n.translate("flow.mail.retried_none", web.language(request)))
        return response
    return _said(request, "/admin/outbox?status=pending", "flow.mail.retried_all", count=count)


@router.get("/admin/jobs")
def jobs_page(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    policy.require(user, "jobs.manage")
    registry = jobs.REGISTRY.by_name()
    return web.render(request, "notify/jobs.html", {"states": jobs.states_by_job(session, settings),
                                                      "registry": registry})


@router.post("/admin/jobs/{name}/run")
def jobs_run(request: Request, name: str, user: CurrentUser, session: SessionDep):
    policy.require(user, "jobs.manage")
    if name not in jobs.REGISTRY:
        raise not_found("object")
    jobs.request_run(session, name)
    response = web.redirect("/admin/jobs")
    language = web.language(request)
    web.flash(request, response, i18n.translate("flow.jobs.requested", language,
                                                job=i18n.translate(f"job.{name}", language)))
    return response


@router.get("/intake")
def intake_page(request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                status: str = "held"):
    policy.require(user, "intake.assign")
    return web.render(request, "notify/intake.html", {
        "messages": intake.list_intake(session=session, user=user, status=status or None),
        "organizations": accounts.list_organizations(session=session), "status": status,
        "intake_on": bool(settings.imap_url),
    })


@router.get("/intake/{intake_id}")
def intake_message_page(intake_id: RowId, request: Request, user: CurrentUser, session: SessionDep,
                        settings: SettingsDep):
    record = intake.get_intake(session=session, user=user, intake_id=intake_id)
    return _intake_message(request, session, settings, record)


def _intake_message(request, session, settings, record, *, errors: dict | None = None, chosen: str = "",
                    status_code: int = 200):
    """A message read from the mailbox; a held one with what second line can do: register it for an organisation,
    add it to the most similar open ticket of the sender's organisation (``threads.suggestion``), dismiss it."""
    original = intake.read_original(settings=settings, record=record)
    offer = threads.suggestion(session=session, settings=settings, record=record, body=original.body) \
        if record.status == "held" else None
    return web.render(request, "notify/intake_message.html", {
        "record": record, "original": original, "suggestion": offer,
        "organizations": accounts.list_organizations(session=session), "errors": errors or {},
        "chosen": chosen or (offer.organization.slug if offer else ""),  # the sender's organisation, when known
    }, status_code=status_code)


@router.post("/intake/{intake_id}/add")
def intake_add_to_ticket(intake_id: RowId, request: Request, user: CurrentUser, session: SessionDep,
                         settings: SettingsDep, ticket: Annotated[str, Form(max_length=40)] = ""):
    """«Добавить к PRM-…»: the held message becomes a comment on that ticket of the sender's organisation."""
    try:
        found = intake.add_held_to_ticket(session=session, settings=settings, actor=user, intake_id=intake_id,
                                          ticket_id=ticket)
    except PortalError as exc:
        if exc.status_code in (401, 403):
            raise
        session.rollback()
        record = intake.get_intake(session=session, user=user, intake_id=intake_id)
        return _intake_message(request, session, settings, record, errors={"ticket": exc.detail},
                               status_code=exc.status_code)
    sender = intake.get_intake(session=session, user=user, intake_id=intake_id).sender
    response = web.redirect(f"/tickets/{found.id}")
    web.flash(request, response, i18n.translate("intake_thread.added", web.language(request), sender=sender,
                                                id=found.id))
    return response


@router.post("/intake/{intake_id}/assign")
def intake_assign(intake_id: RowId, request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                  organization: Annotated[str, Form()] = ""):
    try:
        ticket = intake.assign_held(session=session, settings=settings, actor=user, intake_id=intake_id,
                                    organization=organization)
    except PortalError as exc:
        session.rollback()
        record = intake.get_intake(session=session, user=user, intake_id=intake_id)
        return web.render(request, "notify/intake_message.html", {
            "record": record, "original": intake.read_original(settings=settings, record=record),
            "organizations": accounts.list_organizations(session=session), "errors": {"organization": exc.detail},
            "chosen": organization,
        }, status_code=exc.status_code)
    return _said(request, f"/tickets/{ticket.id}", "intake_flow.assigned", sender=ticket.contact_email,
                 id=ticket.id, organization=ticket.organization.name)


@router.post("/intake/{intake_id}/dismiss")
def intake_dismiss(intake_id: RowId, request: Request, user: CurrentUser, session: SessionDep,
                   reason: Annotated[str, Form()] = ""):
    record = intake.dismiss_held(session=session, actor=user, intake_id=intake_id, reason=reason)
    response = web.redirect("/intake")
    web.flash(request, response, i18n.translate("intake_flow.dismissed", web.language(request), sender=record.sender))
    return response

"""JSON API of notifications: my preferences; the outbox and jobs (admins); held e-mail (second line)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from portal import jobs, policy
from portal.deps import CurrentUser, SessionDep, SettingsDep, verify_csrf
from portal.notify import intake, service
from portal.notify.schemas import (
    IntakeAdd,
    IntakeAssign,
    IntakeDismiss,
    IntakeOut,
    JobOut,
    OutboxOut,
    PreferencesIn,
    PreferencesOut,
    RetryAllOut,
)
from portal.validation import MAX_OFFSET, RowId

router = APIRouter(prefix="/api/v1", tags=["notifications"], dependencies=[Depends(verify_csrf)])


@router.get("/me/notifications", response_model=PreferencesOut, summary="My e-mail notification preferences")
def my_preferences(user: CurrentUser, session: SessionDep):
    return service.get_preferences(session=session, user=user)


@router.put("/me/notifications", response_model=PreferencesOut, summary="Change my e-mail notification preferences")
def set_my_preferences(body: PreferencesIn, user: CurrentUser, session: SessionDep):
    choices = body.model_dump(exclude_none=True)
    return service.set_preferences(session=session, actor=user, user=user, **choices)


@router.get("/outbox", response_model=list[OutboxOut], summary="Outbox messages, newest first (admin)")
def list_outbox(user: CurrentUser, session: SessionDep, status: str | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0):
    policy.require(user, "outbox.manage")
    return service.list_outbox(session=session, status=status, limit=limit, offset=offset)


@router.post("/outbox/{message_id}/retry", response_model=OutboxOut, summary="Send a failed message again (admin)")
def retry_message(message_id: RowId, user: CurrentUser, session: SessionDep):
    return service.retry(session=session, actor=user, message_id=message_id)


@router.post("/outbox/retry-failed", response_model=RetryAllOut, summary="Send every failed message again (admin)")
def retry_failed(user: CurrentUser, session: SessionDep):
    return {"retried": service.retry_all_failed(session=session, actor=user)}


@router.get("/jobs", response_model=list[JobOut], summary="Background jobs: last run, next run, errors (admin)")
def list_jobs(user: CurrentUser, session: SessionDep):
    policy.require(user, "jobs.manage")
    return jobs.states(session)


@router.get("/intake", response_model=list[IntakeOut], summary="Messages read from the support mailbox (second line)")
def list_intake(user: CurrentUser, session: SessionDep, status: str | None = "held"):
    return intake.list_intake(session=session, user=user, status=status or None)


@router.post("/intake/{intake_id}/assign", response_model=IntakeOut,
             summary="Register a held message as a ticket of an organisation (second line)")
def assign_intake(intake_id: RowId, body: IntakeAssign, user: CurrentUser, session: SessionDep, settings: SettingsDep):
    intake.assign_held(session=session, settings=settings, actor=user, intake_id=intake_id,
                       organization=body.organization)
    return intake.get_intake(session=session, user=user, intake_id=intake_id)


@router.post("/intake/{intake_id}/add", response_model=IntakeOut,
             summary="Add a held message to a ticket of the sender's organisation as a comment (second line)")
def add_intake_to_ticket(intake_id: RowId, body: IntakeAdd, user: CurrentUser, session: SessionDep,
                         settings: SettingsDep):
    intake.add_held_to_ticket(session=session, settings=settings, actor=user, intake_id=intake_id,
                              ticket_id=body.ticket)
    return intake.get_intake(session=session, user=user, intake_id=intake_id)


@router.post("/intake/{intake_id}/dismiss", response_model=IntakeOut, summary="Dismiss a held message (second line)")
def dismiss_intake(intake_id: RowId, body: IntakeDismiss, user: CurrentUser, session: SessionDep):
    return intake.dismiss_held(session=session, actor=user, intake_id=intake_id, reason=body.reason)

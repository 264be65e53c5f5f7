"""JSON shapes of the notifications API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class OutboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: dt.datetime
    kind: str
    recipient: str
    subject: str
    ticket_id: str | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    last_error: str
    message_id: str


class RetryAllOut(BaseModel):
    retried: int


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    next_run_at: dt.datetime
    last_started_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    last_status: str | None
    last_message: str | None
    last_error: str | None
    last_error_at: dt.datetime | None
    lease_owner: str | None
    runs: int


class IntakeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str
    received_at: dt.datetime
    sender: str
    sender_name: str
    subject: str
    status: str
    reason: str
    ticket_id: str | None


class IntakeAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization: str = Field(min_length=1, max_length=64, description="Slug of the customer organisation")


class IntakeAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket: str = Field(min_length=1, max_length=40,
                        description="An open ticket of the sender's organisation (the page offers the most similar)")


class IntakeDismiss(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_updates: bool | None = None
    organization_tickets: bool | None = None
    packages: bool | None = None
    staff_alerts: bool | None = None


class PreferencesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ticket_updates: bool
    organization_tickets: bool
    packages: bool
    staff_alerts: bool

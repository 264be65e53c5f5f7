"""Background jobs: one scheduler, each job run once at a time across every process.

Every portal process (and ``portal worker``) may run a ``Scheduler``. Before a
job runs, its row in ``job_state`` is claimed with a single conditional UPDATE
(a lease with an expiry); whoever's UPDATE matched runs it, the others skip.
A crashed runner's lease expires and the job runs again elsewhere. Domains
declare their jobs (``Job`` values in their ``jobs`` modules), ``portal.wiring`` adds
them to ``REGISTRY``, and a domain asks for an early run with ``request_run()``
inside its own transaction (e.g. a site build after publish); when that transaction commits, the schedulers
of the same process wake at once instead of at their next poll (other processes see it at theirs).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import CursorResult, Integer, String, Text, event, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.config import Settings
from portal.db import Base, Database, UTCDateTime, utcnow
from portal.registry import Registry as _Registry

log = logging.getLogger("portal.jobs")
Clock = Callable[[], dt.datetime]


class JobState(Base):
    __tablename__ = "job_state"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(10))  # ok | error
    last_message: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    requested: Mapped[int] = mapped_column(Integer, default=0)


@dataclass
class JobContext:
    settings: Settings
    db: Database
    now: dt.datetime
    clock: Clock


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    run: Callable[[JobContext], str | None]  # returns a short summary for the admin page
    lease: dt.timedelta = dt.timedelta(minutes=30)
    description: str = ""
    # Work each node does for itself (building this node's site editions): leased per node, as «name@node».
    per_node: bool = False

    def lease_name(self, settings: Settings) -> str:
        return f"{self.name}{NODE_SEPARATOR}{settings.node}" if self.per_node else self.name


class JobFailed(Exception):
    """A job that could not do its work for a reason it can say in words (its message is what the jobs page
    shows): recorded as a failure, logged in one line rather than with a traceback."""


class Registry(_Registry[Job]):
    """The periodic jobs, by name: a name added again replaces the job it named."""

    def __init__(self) -> None:
        super().__init__("jobs", key=lambda job: job.name)

    def __getitem__(self, name: str) -> Job:
        return self._items[name]

    def __contains__(self, item: object) -> bool:
        return (item.name if isinstance(item, Job) else item) in self._items

    def by_name(self) -> dict[str, Job]:
        return {job.name: job for job in self}


REGISTRY = Registry()
NODE_SEPARATOR = "@"


def _ensure_row(session: Session, name: str, now: dt.datetime) -> JobState:
    row = session.get(JobState, name)
    if row is None:
        row = JobState(name=name, next_run_at=now, runs=0, requested=0)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # another process created it first
            session.rollback()
            row = session.get_one(JobState, name)
    return row


# Set after a transaction that asked for a run commits: the schedulers of this process stop waiting. Set only
# after the commit, or a woken scheduler would find the row not yet due and sleep a full poll.
_requested = threading.Event()


def _wake_schedulers(session: Session) -> None:
    _requested.set()


def request_run(session: Session, name: str, *, now: dt.datetime | None = None) -> None:
    """Ask for the job to run as soon as a scheduler is free, in the caller's transaction; a per-node job is
    asked of every node that has run it (a node new to it runs it when its scheduler first sees it).
    The schedulers of this process wake when the transaction commits."""
    now = now or utcnow()
    if not event.contains(session, "after_commit", _wake_schedulers):
        event.listen(session, "after_commit", _wake_schedulers)
    job = REGISTRY.get(name)
    if job is not None and job.per_node:
        session.execute(
            update(JobState).where(JobState.name.like(f"{name}{NODE_SEPARATOR}%"))
            .values(next_run_at=now, requested=JobState.requested + 1)
            .execution_options(synchronize_session=False))
        return
    row = _ensure_row(session, name, now)
    row.next_run_at = min(row.next_run_at, now)
    row.requested = (row.requested or 0) + 1


def states(session: Session) -> list[JobState]:
    return list(session.scalars(select(JobState).order_by(JobState.name)))


def states_by_job(session: Session, settings: Settings) -> dict[str, JobState]:
    """Each registered job's state by its name, as this node sees it: a per-node job's own lease row."""
    rows = {row.name: row for row in states(session)}
    found = {job.name: rows.get(job.lease_name(settings)) for job in REGISTRY}
    return {name: row for name, row in found.items() if row is not None}


class Scheduler:
    def __init__(self, settings: Settings, db: Database, *, clock: Clock = utcnow, owner: str | None = None,
                 jobs: dict[str, Job] | None = None):
        self.settings = settings
        self.db = db
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.jobs = REGISTRY.by_name() if jobs is None else jobs
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, job: Job) -> bool:
        """Take the job's lease if it is due and nobody holds a live lease; one UPDATE decides."""
        now = self.clock()
        name = job.lease_name(self.settings)
        with self.db.session_scope() as session:
            _ensure_row(session, name, now)
            result: CursorResult = session.execute(  # type: ignore[assignment]  # DML answers a CursorResult
                update(JobState)
                .where(JobState.name == name, JobState.next_run_at <= now,
                       or_(JobState.lease_until.is_(None), JobState.lease_until < now))
                .values(lease_owner=self.owner, lease_until=now + job.lease, last_started_at=now, requested=0)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    def run_job(self, job: Job) -> bool:
        """Run one job if this scheduler wins its lease; True when it ran."""
        if not self.claim(job):
            return False
        started = self.clock()
        status, message, error = "ok", None, None
        try:
            message = job.run(JobContext(self.settings, self.db, started, self.clock))
        except JobFailed as exc:  # a condition the job reports (mail waits, no SMTP): one line, no traceback
            status, error = "error", str(exc)
            log.warning("job %s: %s", job.name, exc)
        except Exception as exc:  # a failing job is recorded and retried on schedule, never fatal
            status, error = "error", "".join(traceback.format_exception_only(exc)).strip()
            log.exception("job %s failed", job.name)
            log.debug("%s", traceback.format_exc())
        finished = self.clock()
        with self.db.session_scope() as session:
            row = session.get_one(JobState, job.lease_name(self.settings))
            row.last_finished_at = finished
            row.last_status = status
            row.runs = (row.runs or 0) + 1
            if status == "ok":
                row.last_message = (message or "")[:2000]
            else:
                row.last_error, row.last_error_at = (error or "")[:4000], finished
            # A request that arrived while running keeps its earlier time; otherwise wait a full interval.
            row.next_run_at = finished if row.requested else started + job.every
            row.lease_owner, row.lease_until = None, None
        return True

    def tick(self) -> list[str]:
        """Run every due job once; return the names of those this scheduler ran."""
        return [job.name for job in list(self.jobs.values()) if self.run_job(job)]

    def run_forever(self, poll_seconds: float = 2.0) -> None:
        log.info("scheduler %s started with jobs: %s", self.owner, ", ".join(self.jobs) or "none")
        while not self._stop.is_set():
            _requested.clear()  # before the tick: a request committed while it runs ends the next wait at once
            try:
                self.tick()
            except Exception:  # database briefly unreachable: try again on the next tick
                log.exception("scheduler tick failed")
            _requested.wait(poll_seconds)  # a run requested in this process ends it at once; so does stop()

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="portal-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        _requested.set()
        if self._thread is not None:
            self._thread.join(30)

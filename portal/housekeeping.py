"""Repairs after a crash: at every start (web process, ``portal worker``, ``portal init``) and by jobs.

* ``intents.reconcile`` (every minute): settle operations that wrote git but were cut off before their
  database effects (``portal.intents``);
* ``blobs.sweep`` (every 10 minutes): temporary files of uploads nobody is writing any more, at once, and
  blobs no row refers to after ``PORTAL_BLOB_GRACE_HOURS`` (``portal.storage``).
"""

from __future__ import annotations

import datetime as dt
import logging

from portal import blobs, intents, jobs, storage
from portal.config import Settings

log = logging.getLogger("portal.housekeeping")


def reconcile_job(ctx: jobs.JobContext) -> str:
    return str(intents.reconcile(settings=ctx.settings, db=ctx.db))


def sweep_job(ctx: jobs.JobContext) -> str:
    return storage.sweep(settings=ctx.settings, db=ctx.db)


def on_start(settings: Settings, db) -> None:
    """What a starting process repairs before it serves: leftover temporary files and pending intents."""
    try:
        removed = blobs.blob_store(settings).sweep_temporary()
        if removed:
            log.warning("removed %d temporary files of interrupted uploads", removed)
    except OSError:
        log.exception("sweeping temporary upload files failed")
    try:
        summary = intents.reconcile(settings=settings, db=db)
        if summary.applied or summary.dropped:
            log.warning("reconciled interrupted operations: %s", summary)
    except Exception:  # never keeps the portal from starting: the job tries again every minute
        log.exception("reconciling pending intents at start failed")


# Added to the scheduler's registry by portal.wiring.
JOBS = (
    jobs.Job("intents.reconcile", run=reconcile_job, every=dt.timedelta(minutes=1), lease=dt.timedelta(minutes=10),
             description="Finish or drop git-and-database operations a crash cut off (publish, archive, "
                         "restore, package manifests): audit rows, ticket stages, search index, site build."),
    jobs.Job("blobs.sweep", run=sweep_job, every=dt.timedelta(minutes=10), lease=dt.timedelta(minutes=30),
             description="Remove temporary files of interrupted uploads and stored files no row refers to "
                         "(after PORTAL_BLOB_GRACE_HOURS)."),
)

"""Background job of the knowledge base: follow the content remote, rebuild stale site editions."""

from __future__ import annotations

import datetime as dt
import logging

from portal import jobs
from portal.content import ContentRepo
from portal.knowledge import site

log = logging.getLogger("portal.knowledge")


def build_sites(ctx: jobs.JobContext) -> str:
    content = ContentRepo(ctx.settings)
    if content.has_remote():
        with content.writing():
            pass  # pull before, push after: brings in other nodes' commits and sends ours that are pending
    results = site.build(settings=ctx.settings, db=ctx.db, trigger="job")
    done = [f"{r.edition}: {r.status}" for r in results if r.status != "skipped"]
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        log.error("knowledge-base edition %s failed to build at %s: %s", r.edition, r.commit[:12], r.error)
    if failed:
        raise RuntimeError("; ".join(f"{r.edition}: {r.error.splitlines()[-1] if r.error else 'failed'}"
                                     for r in failed))
    return ", ".join(done) or "up to date"


# Added to the scheduler's registry by portal.wiring.
JOBS = (
    jobs.Job(site.BUILD_JOB, run=build_sites, every=dt.timedelta(minutes=5), lease=dt.timedelta(minutes=60),
             description="Pull the content repository from its remote and rebuild the site editions that "
                         "are missing or older than git HEAD."),
)

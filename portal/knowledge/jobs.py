"""Background job of the knowledge base: follow the content remote, rebuild stale site editions."""

from __future__ import annotations

import datetime as dt
import logging

from portal import jobs
from portal.content import ContentRepo
from portal.knowledge import site

log = logging.getLogger("portal.knowledge")


RECONCILE_ROUNDS = 20  # a stream of publishes postpones the full builds at most this many times per run


def build_sites(ctx: jobs.JobContext) -> str:
    """Bring this node's editions to HEAD, fast, then make each a full build.

    First the stale editions are built incrementally (only what changed is rendered; seconds), so a publish
    is live at once. Then each edition served from an incremental build is replaced by a full build of the
    same commit (minutes at thousands of articles); a new commit meanwhile abandons it, is built
    incrementally first, and the full build starts again. A crash at any point leaves the edition on its last
    swapped build, incremental or not; the next run sees it stale or unreconciled and finishes the work."""
    site.BUILD_WORKER.warm()  # a publish finds MkDocs and Material imported (it starts in the background)
    site.settle_interrupted(ctx.settings, ctx.db)
    content = ContentRepo(ctx.settings)
    if content.has_remote():
        with content.writing():
            pass  # pull before, push after: brings in other nodes' commits and sends ours that are pending
    done: list[str] = []
    failed: list[site.BuildResult] = []
    for _ in range(RECONCILE_ROUNDS):
        results = site.build(settings=ctx.settings, db=ctx.db, trigger="job")
        head = content.head()
        # A publish that arrived while the editions were built is built incrementally first, not full-built.
        moved_on = any(r.commit != head for r in results)
        pending = [] if moved_on else site.unreconciled(ctx.settings, head)
        if pending:
            results += site.build(settings=ctx.settings, db=ctx.db, editions=pending, force=True,
                                  incremental=False, trigger="job:reconcile",
                                  cancel=lambda: content.head() != head, background=True)
        done += [f"{r.edition}: {r.status} ({r.mode})" for r in results if r.status not in ("skipped", "cancelled")]
        failed += [r for r in results if r.status == "failed"]
        if not moved_on and not any(r.status == "cancelled" for r in results) and content.head() == head:
            break
    for r in failed:
        log.error("knowledge-base edition %s failed to build at %s: %s", r.edition, r.commit[:12], r.error)
    if failed:
        raise RuntimeError("; ".join(f"{r.edition}: {r.error.splitlines()[-1] if r.error else 'failed'}"
                                     for r in failed))
    return ", ".join(done) or "up to date"


# Added to the scheduler's registry by portal.wiring.
JOBS = (
    # Per node: every node serves its own <home>/site, so each builds the editions it lacks.
    jobs.Job(site.BUILD_JOB, run=build_sites, every=dt.timedelta(minutes=5), lease=dt.timedelta(minutes=60),
             description="Pull the content repository from its remote, build the site editions that "
                         "are missing or older than git HEAD (incrementally: only what changed), then replace "
                         "each incremental build by a full one.", per_node=True),
)

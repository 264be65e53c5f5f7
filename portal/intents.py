"""Durable intents: an operation that writes both git and the database is never left half-done by a crash.

Publishing an article, archiving, restoring, saving, a package's manifest and its ``fixed_in`` commit write
the content repository *and* rows (audit, ticket stages, package state). A crash between the two (kill -9,
power loss) used to leave git ahead of the database for good. Now every such operation runs in three steps:

1. ``begin()`` — holding the content repository's write lock, record an intent in its own short, committed
   transaction: operation, target, actor, the git blob hash of every file the commit will write (the
   expected result), and the database effects still to apply (audit row, ticket stage, package state …);
2. the git commit;
3. ``finish()`` — one short write transaction applies the effects and marks the intent done (a conditional
   ``UPDATE`` on the intent decides, so the effects are applied exactly once), then the search index is
   told and a site build is requested.

``reconcile()`` runs at start-up of every web process and of ``portal worker`` and every minute as the job
``intents.reconcile``. Holding the same write lock (so no operation is between its intent and its commit),
it looks at each pending intent: when git has the expected content (searched in the history since the
intent, so a later edit or a rebase onto a remote does not hide it) the effects are applied as the real
actor would have, with ``recovered: true`` in their audit details; when git does not, the operation never
happened — its caller saw an error — and the intent is dropped. Either way the reconciliation itself is
audited (``intent.reconciled``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import JSON, CursorResult, ForeignKey, Index, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import audit, faults, policy
from portal.accounts.models import User
from portal.config import Settings
from portal.content import ContentRepo, record_head, shared_lock
from portal.db import Base, UTCDateTime, utcnow
from portal.i18n import message
from portal.policy import Actor
from portal.registry import Registry

log = logging.getLogger("portal.intents")

PENDING, DONE, DROPPED = "pending", "done", "dropped"
RECONCILE_LOCK_TIMEOUT = 120.0


class Intent(Base):
    __tablename__ = "intents"
    __table_args__ = (Index("ix_intents_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    operation: Mapped[str] = mapped_column(String(60))  # article.publish, package.publish …
    target: Mapped[str] = mapped_column(String(200))  # the article's slug, the package's id
    actor: Mapped[str] = mapped_column(String(150))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # {path: git blob SHA-1 of the content the commit writes}: what git has once the operation happened.
    expected: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    base_commit: Mapped[str] = mapped_column(String(40), default="")  # HEAD before the commit
    effects: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    commit: Mapped[str] = mapped_column(String(40), default="")
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(Text, default="")


@dataclass
class EffectContext:
    """What an effect applier is given: the intent, the commit that carried its change, the real actor."""

    settings: Settings
    intent: Intent
    commit: str
    actor: Actor  # who began the operation, reloaded
    recovered: bool
    reindex: list[str] = field(default_factory=list)  # slugs to hand to the search index afterwards


@dataclass(frozen=True)
class Effect:
    """A kind of database change a domain applies after its git commit, inside the finishing transaction."""

    name: str
    apply: Callable[[Session, EffectContext, dict], None]


# The domains' effects (publishing a package, a ticket's knowledge-base stage …), added by portal.wiring in
# every process before any intent is finished or reconciled; the core effects below are always known.
EFFECTS: Registry[Effect] = Registry("intents.effects", key=lambda e: e.name)


class Reindex(Protocol):
    """Told, after the finishing transaction, which articles a finished intent changed (knowledge's hook)."""

    def __call__(self, *, settings: Settings, commit: str, slugs: list[str]) -> None: ...


# knowledge.hooks.articles_changed, added by portal.wiring (the core never imports the domain it serves).
AFTER_REINDEX: Registry[Reindex] = Registry("intents.after_reindex")


def _audit(session: Session, ctx: EffectContext, eff: dict) -> None:
    details = {**eff.get("details", {}), "commit": ctx.commit}
    if ctx.recovered:
        details["recovered"] = True
    audit.record(session, actor=ctx.actor, action=eff["action"], object_type=eff["object_type"],
                 object_id=eff["object_id"], details=details)


def _reindex(session: Session, ctx: EffectContext, eff: dict) -> None:
    ctx.reindex.extend(eff.get("slugs", []))


_CORE_EFFECTS = {"audit": _audit, "reindex": _reindex}


def _effect(name: str) -> Callable[[Session, EffectContext, dict], None]:
    if name in _CORE_EFFECTS:
        return _CORE_EFFECTS[name]
    effect = EFFECTS.get(name)
    if effect is None:  # a process that skipped portal.wiring.wire(): refuse rather than half-apply
        raise RuntimeError(f"intent effect {name!r} is not registered; call portal.wiring.wire() at start")
    return effect.apply


def git_blob_sha(data: str | bytes) -> str:
    """The SHA-1 git gives a file of these bytes (``git hash-object``)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def _actor_fields(actor: Actor) -> tuple[str, int | None]:
    return actor.audit_name, actor.id


def short_transaction(session: Session) -> contextlib.AbstractContextManager[Session]:
    """A write transaction of its own, on the caller's database, committed at once."""
    return _own_transaction(session.get_bind(), info=dict(session.info))


@contextlib.contextmanager
def _own_transaction(bind, *, info: dict | None = None) -> Iterator[Session]:
    own = Session(bind=bind.execution_options(portal_write=True), expire_on_commit=False, info=info or {})
    try:
        yield own
        own.commit()
    except BaseException:
        own.rollback()
        raise
    finally:
        own.close()


def end_caller_transaction(session: Session) -> None:
    """Commit what the caller did so far and release its transaction (on SQLite, the write lock): the steps of
    a git-and-database operation are short transactions of their own, and git is never written under one."""
    if session.in_transaction():
        session.commit()


@dataclass(frozen=True)
class Started:
    id: int
    operation: str


def begin(session: Session, *, content, operation: str, target: str, actor, files: Mapping[str, str | bytes],
          effects: list[dict]) -> Started:
    """Record the intent (committed) before the git commit; the caller holds the content write lock."""
    end_caller_transaction(session)
    name, actor_id = _actor_fields(actor)
    base = content.head()
    with short_transaction(session) as own:
        row = Intent(created_at=utcnow(), operation=operation, target=str(target)[:200], actor=name,
                     actor_id=actor_id, expected={p: git_blob_sha(data) for p, data in files.items()},
                     base_commit=base, effects=effects, status=PENDING)
        own.add(row)
        own.flush()
        started = Started(row.id, operation)
    faults.point(f"{operation}.before_git_commit")
    return started


def finish(session: Session, started: Started, *, settings: Settings, commit: str) -> bool:
    """After the git commit: apply the effects and mark the intent done (one short transaction), then tell the
    search index. False when someone else (the reconciliation) already did."""
    faults.point(f"{started.operation}.after_git_commit")
    with short_transaction(session) as own:
        ctx = _apply(own, settings, started.id, commit, recovered=False)
    if ctx is None:
        return False
    _after(settings, ctx)
    return True


def abandon(session: Session, started: Started | None, *, settings: Settings) -> None:
    """The git step failed (the caller left the write lock): settle the intent now by what git really has —
    usually nothing, so it is dropped; the reconciliation job would do the same a minute later."""
    if started is None:
        return
    try:
        with _write_lock(settings):
            _settle_one(settings, session.get_bind(), started.id)
    except Exception:
        log.exception("could not settle intent %s after a failed git step", started.id)


@contextlib.contextmanager
def guarded(session: Session, settings: Settings) -> Iterator[list[Started]]:
    """Around a git-and-database operation (and its ``content.writing()``): the caller's transaction ends
    before git is locked (a transaction never waits for git, nor git for a transaction), and an intent the
    operation appended to the yielded list before failing is settled at once by what git has."""
    end_caller_transaction(session)
    started: list[Started] = []
    try:
        yield started
    except BaseException:
        abandon(session, started[0] if started else None, settings=settings)
        raise


def _write_lock(settings: Settings):
    # The content write lock itself, across nodes on PostgreSQL (not ContentRepo.writing: no push; a leftover
    # index.lock does not stop reading).
    return shared_lock(settings, RECONCILE_LOCK_TIMEOUT)


def _load_actor(session: Session, intent: Intent) -> Actor:
    """The actor who began the operation; a removed user's intent finishes as the reconciliation job."""
    if intent.actor_id is not None:
        user = session.get(User, intent.actor_id)
        if user is not None:
            return user
    try:
        return policy.SystemActor.from_audit_name(intent.actor)
    except LookupError:
        return policy.SystemActor.job("intents.reconcile")


def _apply(session: Session, settings: Settings, intent_id: int, commit: str, *, recovered: bool
           ) -> EffectContext | None:
    """Claim the intent (one conditional UPDATE) and apply its effects in the same transaction."""
    claimed = cast(CursorResult[Any], session.execute(
        update(Intent).where(Intent.id == intent_id, Intent.status == PENDING)
        .values(status=DONE, commit=commit, finished_at=utcnow(),
                outcome="применено при восстановлении" if recovered else "")
        .execution_options(synchronize_session=False)))
    if claimed.rowcount != 1:
        return None
    intent = session.get_one(Intent, intent_id)  # there: the UPDATE above has just matched it
    ctx = EffectContext(settings=settings, intent=intent, commit=commit, actor=_load_actor(session, intent),
                        recovered=recovered)
    for eff in intent.effects or []:
        _effect(eff["type"])(session, ctx, eff)
    session.flush()
    return ctx


def _after(settings: Settings, ctx: EffectContext) -> None:
    if not ctx.reindex:
        return
    try:
        for hook in AFTER_REINDEX:
            hook(settings=settings, commit=ctx.commit, slugs=ctx.reindex)
    except Exception:  # the index is derived and catches up from git; the commit stands
        log.exception("an articles_changed hook failed for %s at %s", ctx.reindex, ctx.commit)


# --- reconciliation ------------------------------------------------------------------------------------

def find_commit(settings: Settings, intent: Intent) -> str | None:
    """The commit that wrote the intent's expected content, or None when git never got it."""
    if not intent.expected:
        return None
    path, wanted = next(iter(intent.expected.items()))
    content = ContentRepo(settings)
    with content.repo() as repo:
        base = intent.base_commit
        try:
            ranged = bool(base) and repo.is_ancestor(repo.commit(base), repo.head.commit)
        except Exception:  # an unknown commit (history rewritten): look at recent history instead
            ranged = False
        args = ["--format=%H", f"{base}..HEAD" if ranged else "HEAD"] + ([] if ranged else ["-n", "200"])
        shas = repo.git.log(*args, "--", path).split()
        for sha in reversed(shas):  # the oldest commit in the range that wrote it
            try:
                blob = repo.git.rev_parse("--verify", "--quiet", f"{sha}:{path}")
            except Exception:
                continue
            if blob == wanted:
                return sha
    return None


@dataclass
class Summary:
    applied: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.applied and not self.dropped:
            return str(message("job_report.intents_none"))
        return str(message("job_report.intents_settled", applied=len(self.applied), dropped=len(self.dropped))) + (
            f" ({', '.join(self.applied + self.dropped)})")


def _settle_one(settings: Settings, bind, intent_id: int) -> str | None:
    """Apply or drop one pending intent by what git has (the caller holds the content write lock)."""
    # Read the intent and let go of the database before looking at git.
    with contextlib.closing(Session(bind=bind.execution_options(portal_write=False), expire_on_commit=False)) as probe:
        intent = probe.get(Intent, intent_id)
        if intent is None or intent.status != PENDING:
            return None
        probe.expunge(intent)
    commit = find_commit(settings, intent)
    label = f"{intent.operation} {intent.target}"
    ctx = None
    outcome: str | None
    with _own_transaction(bind) as own:
        if commit:
            ctx = _apply(own, settings, intent_id, commit, recovered=True)
            outcome = "applied"
        else:
            done = cast(CursorResult[Any], own.execute(
                update(Intent).where(Intent.id == intent_id, Intent.status == PENDING)
                .values(status=DROPPED, finished_at=utcnow(), outcome="в git изменения нет: операция не состоялась")
                .execution_options(synchronize_session=False)))
            outcome = "dropped" if done.rowcount == 1 else None
        if outcome and (ctx is not None or outcome == "dropped"):
            intent = own.get_one(Intent, intent_id)  # there: this transaction has just updated it
            audit.record(own, actor=policy.SystemActor.job("intents.reconcile"), action="intent.reconciled",
                         object_type="intent", object_id=intent_id,
                         details={"operation": intent.operation, "target": intent.target, "actor": intent.actor,
                                  "outcome": outcome, "commit": commit or None})
        else:
            outcome = None
    if ctx is not None:
        _after(settings, ctx)
    if outcome:
        log.warning("intent %s (%s) reconciled: %s", intent_id, label, outcome)
    return outcome and f"{label}: {outcome}"


def pending_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Intent.id).where(Intent.status == PENDING).order_by(Intent.id)))


def reconcile(*, settings: Settings, db) -> Summary:
    """Settle every pending intent: apply the effects of those git has, drop the others. With several nodes,
    then send this node's commits the remote lacks, setting aside those no operation accounts for."""
    summary = Summary()
    with db.session_scope(write=False) as session:
        ids = pending_ids(session)
    following = bool(settings.content_remote)
    if not ids and not following:
        return summary
    if not ContentRepo(settings).exists():
        return summary
    with _write_lock(settings):
        if following:
            # Another node's operation cut off after its push is in the remote, not yet in this node's git:
            # look at what the remote has before dropping anything as "never happened".
            ContentRepo(settings).pull()
        for intent_id in ids:
            result = _settle_one(settings, db.engine, intent_id)
            if result and result.endswith("applied"):
                summary.applied.append(result)
            elif result:
                summary.dropped.append(result)
        if following:
            _send_unpushed(settings, db.engine)
    return summary


UNPUSHED_LOOKBACK = dt.timedelta(days=7)


def _send_unpushed(settings: Settings, bind) -> None:
    """Several nodes, holding the write lock: push the local commits the remote lacks — those of finished
    operations (a push that failed on the network) — and set aside, on a ``portal-orphan/…`` branch, a commit
    no finished operation accounts for: this node was killed between its commit and its push, and another node
    has since dropped the intent as never having happened, so it must not reach the remote later."""
    content = ContentRepo(settings)
    unpushed = content.unpushed()
    if not unpushed:
        return
    with contextlib.closing(Session(bind=bind.execution_options(portal_write=False))) as probe:
        if probe.scalar(select(Intent.id).where(Intent.status == PENDING).limit(1)) is not None:
            return  # not everything is settled yet: the next reconciliation decides
        finished = probe.execute(select(Intent.commit, Intent.expected).where(
            Intent.status == DONE, Intent.created_at >= utcnow() - UNPUSHED_LOOKBACK)).all()
    known_commits = {commit for commit, _ in finished}
    known_blobs = {(path, blob) for _, expected in finished for path, blob in (expected or {}).items()}
    for sha in unpushed:
        written = content.written_blobs(sha)
        if sha in known_commits or not written or all(item in known_blobs for item in written.items()):
            continue
        rescue = content.set_aside(sha)
        log.error("content commit %s is in no finished operation (cut off before its push, dropped by another "
                  "node); set aside on branch %s", sha[:12], rescue)
        with _own_transaction(bind) as own:
            audit.record(own, actor=policy.SystemActor.job("intents.reconcile"), action="content.set_aside",
                         object_type="commit", object_id=sha,
                         details={"branch": rescue, "files": sorted(written), "node": settings.node})
        break
    if content.push():
        record_head(settings, content.head())

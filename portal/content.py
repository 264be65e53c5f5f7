"""The content repository: a git repository holding mkdocs.yml, kb/ and releases/.

All git work goes through GitPython. GitPython is not thread-safe, so every
operation opens its own ``Repo`` and closes it; writes are serialised by a
lock that holds across processes. User input never becomes a git option:
paths are passed after ``--`` and names are validated by the callers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import git
from sqlalchemy import String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal import i18n, locks
from portal.config import Settings
from portal.db import Base, UTCDateTime, utcnow
from portal.errors import Conflict, NotInitialised

if TYPE_CHECKING:  # the policy imports the accounts' models; content needs only the type
    from portal.policy import Actor

log = logging.getLogger("portal.content")

PORTAL_AUTHOR = git.Actor("PrimoART portal", "portal@localhost")
STARTER_ITEMS = ("mkdocs.yml", "kb", "releases")
WRITE_LOCK_TIMEOUT = 30.0
WRITE_LOCK_NAME = "content-git"  # also held by the reconciliation of intents (portal/intents.py)
# A git index.lock older than this with no portal write in progress was left by a killed process.
STALE_INDEX_LOCK_SECONDS = 60.0
REMOTE_NAME = "origin"  # the remote PORTAL_CONTENT_REMOTE is configured as
BRANCH = "main"
# How often a node asks the database whether another node pushed (a one-row read; git is touched only when behind).
FOLLOW_CHECK_SECONDS = 1.0
# A request does not wait long for a writer: when one holds the lock, this node answers from its copy and
# looks again a second later (the writer itself pulled first, so it is not behind for long).
FOLLOW_LOCK_TIMEOUT = 2.0


class ContentHead(Base):
    """The commit the last writer pushed to the shared content remote: a node whose HEAD differs is behind."""

    __tablename__ = "content_head"

    branch: Mapped[str] = mapped_column(String(100), primary_key=True)
    commit: Mapped[str] = mapped_column(String(40))
    node: Mapped[str] = mapped_column(String(120))
    pushed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def project_root() -> Path:
    """The source checkout holding the starter content (the package is installed from it)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "mkdocs.yml").exists():
        raise NotInitialised(
            f"Starter content (mkdocs.yml, kb/, releases/) not found beside the package in {root}. "
            "Install the portal from its source checkout (pip install -e .) or set PORTAL_CONTENT_REPO."
        )
    return root


@dataclass
class Author:
    name: str
    email: str

    def actor(self) -> git.Actor:
        return git.Actor(self.name, self.email)


CLI_AUTHOR = Author("PrimoART portal (командная строка)", "portal@localhost")


def author_of(actor: Actor) -> Author:
    """The git author of a change: the person's name and e-mail, or the portal for the command line and jobs."""
    person = actor.person
    if person is not None:
        return Author(person.full_name or person.username, person.email or f"{person.username}@users.portal.invalid")
    return CLI_AUTHOR


class ContentRepo:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.path = settings.content_path

    # --- set-up -----------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / ".git").is_dir() or (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    def ensure(self) -> bool:
        """Create and seed the repository from the project's starter files; True when created.

        With ``PORTAL_CONTENT_REMOTE`` the repository follows it: cloned when the remote has the branch, else
        seeded here and pushed (under the lock all nodes share, so two nodes starting at once seed it once).
        """
        if not self.settings.content_remote:
            return self._ensure_local()
        with self.write_lock():
            created = False
            if not self.exists():
                if self._remote_has_branch():
                    self._clone()
                    return True
                created = self._ensure_local()
            self._configure_remote()
            self.pull()
            if not self.push():
                raise NotInitialised(f"Could not push the content repository to PORTAL_CONTENT_REMOTE="
                                     f"{self.settings.content_remote}; see the log.")
            record_head(self.settings, self.head())
            return created

    def _git_env(self) -> dict[str, str]:
        return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}

    def _remote_has_branch(self) -> bool:
        done = subprocess.run(["git", "ls-remote", "--heads", "--", self.settings.content_remote, BRANCH],
                              capture_output=True, text=True, timeout=60, env=self._git_env())
        if done.returncode != 0:
            raise NotInitialised(f"PORTAL_CONTENT_REMOTE={self.settings.content_remote} does not answer: "
                                 f"{done.stderr.strip()[:300]}")
        return bool(done.stdout.strip())

    def _clone(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.clone_from(self.settings.content_remote, self.path, branch=BRANCH, origin=REMOTE_NAME,
                                   env=self._git_env())
        try:
            with repo.config_writer() as cfg:
                cfg.set_value("user", "name", PORTAL_AUTHOR.name)
                cfg.set_value("user", "email", PORTAL_AUTHOR.email)
        finally:
            repo.close()

    def _configure_remote(self) -> None:
        """Point the remote ``origin`` at PORTAL_CONTENT_REMOTE (the setting wins over the repository's own)."""
        with self.repo() as repo:
            names = [r.name for r in repo.remotes]
            if REMOTE_NAME not in names:
                repo.create_remote(REMOTE_NAME, self.settings.content_remote)
            elif repo.remotes[REMOTE_NAME].url != self.settings.content_remote:
                repo.git.remote("set-url", "--", REMOTE_NAME, self.settings.content_remote)

    def _ensure_local(self) -> bool:
        if self.exists():
            return False
        if self.settings.content_repo is not None:
            raise NotInitialised(f"PORTAL_CONTENT_REPO={self.path} is not a git repository.")
        root = project_root()
        self.path.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(self.path, initial_branch="main")
        try:
            with repo.config_writer() as cfg:
                cfg.set_value("user", "name", PORTAL_AUTHOR.name)
                cfg.set_value("user", "email", PORTAL_AUTHOR.email)
            for item in STARTER_ITEMS:
                source = root / item
                target = self.path / item
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                elif source.exists():
                    shutil.copy2(source, target)
            (self.path / ".gitignore").write_text("site/\n__pycache__/\n")
            repo.git.add("--all")
            repo.index.commit("Начальное содержимое портала", author=PORTAL_AUTHOR, committer=PORTAL_AUTHOR)
        finally:
            repo.close()
        return True

    # --- reading ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def repo(self) -> Iterator[git.Repo]:
        """A fresh Repo for this thread and operation."""
        if not self.exists():
            raise NotInitialised(f"The content repository {self.path} does not exist. Run `portal init`.")
        repo = git.Repo(self.path)
        try:
            yield repo
        finally:
            repo.close()

    def head(self) -> str:
        with self.repo() as repo:
            return repo.head.commit.hexsha

    def check(self) -> str:
        """Raise unless the repository is readable; return HEAD."""
        try:
            return self.head()
        except (git.exc.GitError, ValueError) as exc:
            raise NotInitialised(f"The content repository {self.path} is not readable: {exc}") from exc

    # --- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def write_lock(self, timeout: float = WRITE_LOCK_TIMEOUT) -> Iterator[None]:
        with shared_lock(self.settings, timeout):
            self._refuse_stale_index_lock()
            yield

    def _refuse_stale_index_lock(self) -> None:
        git_dir = self.path / ".git"
        index_lock = git_dir / "index.lock"
        if index_lock.exists():
            age = time.time() - index_lock.stat().st_mtime
            state = i18n.message("errors_core.index_lock_stale" if age > STALE_INDEX_LOCK_SECONDS
                                 else "errors_core.index_lock_fresh")
            raise Conflict(i18n.message("errors_core.index_lock", path=str(index_lock), state=state,
                                        repo=str(self.path)))

    @contextlib.contextmanager
    def writing(self, timeout: float = WRITE_LOCK_TIMEOUT) -> Iterator[None]:
        """The whole write: hold the lock, bring the branch up to date with its remote, push what was committed."""
        with self.write_lock(timeout):
            self.pull()
            yield
            if self.push() and self.settings.content_remote:
                record_head(self.settings, self.head())

    # --- the remote (PORTAL_CONTENT_REPO with a remote) -------------------------------------
    @staticmethod
    def _upstream(repo: git.Repo) -> tuple[str, str] | None:
        """(remote, branch) this repository follows, from its own configuration; None without a remote."""
        if not repo.remotes or repo.head.is_detached:
            return None
        branch = repo.active_branch
        tracking = branch.tracking_branch()
        if tracking is not None:
            return tracking.remote_name, tracking.remote_head
        names = [r.name for r in repo.remotes]
        return ("origin" if "origin" in names else names[0]), branch.name

    def has_remote(self) -> bool:
        with self.repo() as repo:
            return self._upstream(repo) is not None

    def _fetch(self, repo: git.Repo, remote: str, branch: str) -> str | None:
        """Fetch the followed branch; its commit, or None when the remote has no such branch yet."""
        try:
            repo.git.fetch("--quiet", "--", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
        except git.GitCommandError as exc:
            if "couldn't find remote ref" in (exc.stderr or "").lower():
                return None
            raise Conflict(i18n.message("errors_core.fetch_failed", remote=remote,
                                        reason=(exc.stderr or str(exc)).strip())) from None
        return repo.git.rev_parse("--verify", "--quiet", f"refs/remotes/{remote}/{branch}^{{commit}}")

    def _integrate(self, repo: git.Repo, upstream_sha: str, remote: str, branch: str) -> None:
        """Bring the local branch onto the remote's commit: fast-forward, or rebase local commits on it.

        A rebase that conflicts is aborted; the local commits are kept on a branch named in the error and
        the working branch follows the remote, so nothing is lost and the next write starts clean.
        """
        head = repo.head.commit.hexsha
        # GitPython annotates is_ancestor with Commit, but passes any revision to git merge-base.
        if head == upstream_sha or repo.is_ancestor(upstream_sha, head):  # type: ignore[arg-type]
            return
        if repo.is_ancestor(head, upstream_sha):  # type: ignore[arg-type]
            repo.git.merge("--ff-only", "--quiet", upstream_sha)
            return
        try:
            repo.git.rebase("--quiet", upstream_sha)
            return
        except git.GitCommandError as exc:
            reason = (exc.stderr or exc.stdout or str(exc)).strip().splitlines()
            with contextlib.suppress(git.GitCommandError):
                repo.git.rebase("--abort")
        rescue = f"portal-conflict/{dt.datetime.now(dt.UTC).strftime('%Y%m%d-%H%M%S')}-{head[:8]}"
        repo.git.branch("--", rescue, head)
        repo.git.reset("--hard", "--quiet", upstream_sha)
        with contextlib.suppress(git.GitCommandError):
            repo.git.push("--quiet", "--", remote, f"refs/heads/{rescue}:refs/heads/{rescue}")
        raise Conflict(
            i18n.message("errors_core.remote_conflict", remote=remote, branch=branch, rescue=rescue,
                         reason=reason[-1] if reason else ""),
            extra={"rescue_branch": rescue, "remote_commit": upstream_sha},
        )

    def pull(self) -> None:
        """Before a write: fetch the followed branch and put the local one on top of it (caller holds the lock)."""
        with self.repo() as repo:
            upstream = self._upstream(repo)
            if upstream is None:
                return
            remote, branch = upstream
            sha = self._fetch(repo, remote, branch)
            if sha:
                self._integrate(repo, sha, remote, branch)

    def push(self) -> bool:
        """After a commit: push the branch; a remote that moved meanwhile is rebased on and pushed again.

        True when the remote has our commits. A network failure is logged and retried by the next write or
        build (the commit stays local); a real conflict raises ``Conflict`` with the rescued branch named.
        """
        with self.repo() as repo:
            upstream = self._upstream(repo)
            if upstream is None:
                return True
            remote, branch = upstream
            for _attempt in range(3):
                try:
                    repo.git.push("--quiet", "--", remote, f"HEAD:refs/heads/{branch}")
                    return True
                except git.GitCommandError as exc:
                    stderr = (exc.stderr or "").lower()
                    if "rejected" not in stderr and "fetch first" not in stderr and "non-fast-forward" not in stderr:
                        log.warning("push of the content repository to %s failed: %s", remote, exc.stderr)
                        return False
                sha = self._fetch(repo, remote, branch)
                if sha:
                    self._integrate(repo, sha, remote, branch)
            log.warning("push of the content repository to %s kept being rejected", remote)
            return False

    def unpushed(self) -> list[str]:
        """After a fetch: the local branch's commits the remote lacks, oldest first (none without a remote).
        The caller holds the write lock."""
        with self.repo() as repo:
            upstream = self._upstream(repo)
            if upstream is None:
                return []
            sha = self._fetch(repo, *upstream)
            if not sha:
                return []
            return repo.git.rev_list("--reverse", f"{sha}..HEAD").split()

    def written_blobs(self, commit: str) -> dict[str, str]:
        """{path: git blob SHA-1} of the files a commit added or changed (deletions left out)."""
        with self.repo() as repo:
            out = repo.git.diff_tree("--no-commit-id", "-r", "--root", commit)
        blobs: dict[str, str] = {}
        for line in out.splitlines():
            meta, _, path = line.partition("\t")
            fields = meta.split()
            if len(fields) >= 5 and fields[4] != "D":
                blobs[path] = fields[3]
        return blobs

    def set_aside(self, first: str) -> str:
        """Move the branch back to the parent of ``first``, keeping what it had on a ``portal-orphan/…`` branch
        (nothing is lost); the rescue branch's name. The caller holds the write lock."""
        with self.repo() as repo:
            head = repo.head.commit.hexsha
            rescue = f"portal-orphan/{dt.datetime.now(dt.UTC).strftime('%Y%m%d-%H%M%S')}-{head[:8]}"
            repo.git.branch("--", rescue, head)
            repo.git.reset("--hard", "--quiet", f"{first}^")
        return rescue

    def commit_files(self, *, files: Mapping[str, str | bytes | None], message: str, author: Author | None = None) -> str:
        """Write (or delete, for None) files relative to the repo root and commit them; return the commit.

        Callers hold ``write_lock()``; paths must already be validated.
        """
        with self.repo() as repo:
            for rel, data in files.items():
                target = self.path / rel
                if data is None:
                    if target.exists():
                        repo.git.rm("-q", "--", rel)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(data, str):
                    target.write_text(data, encoding="utf-8")
                else:
                    target.write_bytes(data)
                repo.git.add("--", rel)
            actor = author.actor() if author else PORTAL_AUTHOR
            commit = repo.index.commit(message, author=actor, committer=PORTAL_AUTHOR)
            return commit.hexsha


# --- several nodes following one remote -----------------------------------------------------------------

def shared_lock(settings: Settings, timeout: float = WRITE_LOCK_TIMEOUT) -> contextlib.AbstractContextManager[None]:
    """The content repository's write lock: across nodes on PostgreSQL (advisory), across processes on SQLite.
    The reconciliation of intents holds the same one."""
    return locks.shared(settings, WRITE_LOCK_NAME, timeout=timeout, what=i18n.message("errors_core.lock.content"))


def _upsert(settings: Settings):
    return (postgresql.insert if settings.uses_postgresql else sqlite.insert)(ContentHead)


def record_head(settings: Settings, commit: str) -> None:
    """Say in the database which commit the remote now has (the writer holds the shared lock)."""
    values = {"branch": BRANCH, "commit": commit, "node": settings.node, "pushed_at": utcnow()}
    statement = _upsert(settings).values(**values)
    statement = statement.on_conflict_do_update(index_elements=["branch"], set_={
        k: v for k, v in values.items() if k != "branch"})
    with Session(locks.engine(settings.effective_database_url)) as session, session.begin():
        session.execute(statement)


def recorded_head(settings: Settings) -> str | None:
    with Session(locks.engine(settings.effective_database_url)) as session:
        return session.scalar(select(ContentHead.commit).where(ContentHead.branch == BRANCH))


def head_from_ref_files(path: Path) -> str | None:
    """HEAD's commit of the repository at ``path`` read from the files git keeps it in (no git process, so it is
    cheap enough for every request and every search); None when the refs are not plain files."""
    git_dir = path / ".git"
    try:
        ref = (git_dir / "HEAD").read_text().strip()
        if not ref.startswith("ref: "):
            return ref
        name = ref[5:]
        loose = git_dir / name
        if loose.is_file():
            return loose.read_text().strip()
        packed = git_dir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + name):
                    return line.split(" ", 1)[0]
    except OSError:
        return None
    return None


_follow_checked: dict[str, float] = {}
_follow_guard = threading.Lock()


def follow(settings: Settings, *, force: bool = False) -> bool:
    """Catch up with the shared remote when another node pushed: True when HEAD moved.

    At most once a second per process (unless ``force``) the commit recorded by the last writer is read from
    the database and compared with the local HEAD; only when they differ does the node take the shared lock,
    fetch and fast-forward. The search index and the site editions notice the new HEAD themselves (the index
    catches up on the next search, the site build is a per-node job every writer requests).
    """
    if not settings.content_remote:
        return False
    content = ContentRepo(settings)
    key = str(content.path)
    now = time.monotonic()
    with _follow_guard:
        if not force and now - _follow_checked.get(key, 0.0) < FOLLOW_CHECK_SECONDS:
            return False
        _follow_checked[key] = now
    wanted = recorded_head(settings)
    local = head_from_ref_files(content.path)
    if not wanted or wanted == local or not content.exists():
        return False
    with content.repo() as repo:
        try:
            if repo.is_ancestor(wanted, local or "HEAD"):  # type: ignore[arg-type]  # ahead: our push is pending
                return False
        except git.GitCommandError:
            pass  # the recorded commit is not here yet: fetch it
    try:
        with shared_lock(settings, FOLLOW_LOCK_TIMEOUT):
            content.pull()
    except Conflict:
        log.info("content repository busy; catching up with %s on a later request", settings.content_remote)
        return False
    moved = content.head() != local
    if moved:
        log.info("content repository caught up with %s: %s → %s", settings.content_remote, (local or "")[:10],
                 content.head()[:10])
    return moved

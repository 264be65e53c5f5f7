"""The content repository: a git repository holding mkdocs.yml, kb/ and releases/.

All git work goes through GitPython. GitPython is not thread-safe, so every
operation opens its own ``Repo`` and closes it; writes are serialised by a
lock that holds across processes. User input never becomes a git option:
paths are passed after ``--`` and names are validated by the callers.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import git

from portal import locks
from portal.config import Settings
from portal.errors import Conflict, NotInitialised

PORTAL_AUTHOR = git.Actor("PrimoART portal", "portal@localhost")
STARTER_ITEMS = ("mkdocs.yml", "kb", "releases")
WRITE_LOCK_TIMEOUT = 30.0
# A git index.lock older than this with no portal write in progress was left by a killed process.
STALE_INDEX_LOCK_SECONDS = 60.0


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


class ContentRepo:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.path = settings.content_path

    # --- set-up -----------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.path / ".git").is_dir() or (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    def ensure(self) -> bool:
        """Create and seed the repository from the project's starter files; True when created."""
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
        with locks.held(self.settings.locks_path, "content-git", timeout=timeout, what="Репозиторий содержимого"):
            self._refuse_stale_index_lock()
            yield

    def _refuse_stale_index_lock(self) -> None:
        git_dir = self.path / ".git"
        index_lock = git_dir / "index.lock"
        if index_lock.exists():
            age = time.time() - index_lock.stat().st_mtime
            state = "старше минуты — скорее всего, остался от прерванного процесса" if age > STALE_INDEX_LOCK_SECONDS \
                else "свежий — возможно, git работает вне портала"
            raise Conflict(
                f"В репозитории содержимого найден {index_lock} ({state}). Убедитесь, что git в {self.path} "
                f"никто не запускал, удалите этот файл и повторите."
            )

    def commit_files(self, *, files: dict[str, str | bytes | None], message: str, author: Author | None = None) -> str:
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

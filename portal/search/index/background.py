"""Following git, the same for every backend: the catch-up from the diff between the index's commit and
HEAD (a full rebuild when the diff cannot be followed or is too long), and the writes a search leaves to a
thread of its own — a reader never waits for a writer, so when a search finds HEAD ahead of the index the
catch-up (or the rebuild it turns into) runs beside it while the live version keeps answering."""

from __future__ import annotations

import abc
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from portal.errors import Conflict
from portal.search.index.protocol import Progress
from portal.search.source import Source

log = logging.getLogger("portal.search")

# The locks and pace every backend keeps (the lock names are the same so that a backend's writers of all
# processes take turns on one name).
WRITE_LOCK = "search-index"
REBUILD_LOCK = "search-rebuild"
WRITE_LOCK_TIMEOUT = 60.0
REBUILD_LOCK_TIMEOUT = 30 * 60.0
HEAD_CHECK_SECONDS = 1.0  # how often a search compares HEAD with the index's commit
INCREMENTAL_LIMIT = 500  # more changed articles than this: a full rebuild is cheaper


class Coalescing:
    """Background work of one index in a thread of its own: at most one run at a time and one pending. A request
    that arrives while a run is under way is folded into the pending one — it runs once after the current run,
    with the work last asked for — so a burst of requests costs two runs, and what changed while the first ran
    is still read by the second. Used by the article index (catch-up, rebuild) and the ticket index (catch-up)."""

    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._pending: Callable[[], object] | None = None
        self.runs = 0  # runs finished (status, tests)
        self.requests = 0

    def request(self, work: Callable[[], object]) -> None:
        with self._lock:
            self.requests += 1
            self._pending = work
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                work, self._pending = self._pending, None
                if work is None:
                    self._thread = None
                    self._idle.notify_all()
                    return
            try:
                work()
            except Exception:
                log.exception("%s in the background failed", self.name)
            with self._lock:
                self.runs += 1

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until nothing runs or is pending; whether it is so."""
        with self._idle:
            return self._idle.wait_for(lambda: self._thread is None, timeout)


class CatchingUp(abc.ABC):
    """``catch_up`` and the background catch-up and rebuild (one of each at a time per process). The backend
    supplies its write lock, its live version, how changed articles are re-indexed in it, ``rebuild``, the
    lock ``_lock`` and ``_head_checked`` (when HEAD was last compared)."""

    source: Source
    _lock: threading.RLock
    _head_checked: float

    def __init__(self) -> None:
        self._background: dict[str, Coalescing] = {}

    @abc.abstractmethod
    def _write_lock(self, *, wait: bool) -> contextlib.AbstractContextManager[None]:
        """The lock every writer of this index takes; without ``wait`` it is given up at once when busy."""

    @abc.abstractmethod
    def _live_version(self) -> tuple[Any, str] | None:
        """(the live version, the commit it reflects), or None when there is none this process can use."""

    @abc.abstractmethod
    def _apply(self, version: Any, paths: list[str], commit: str) -> None:
        """Re-index the given article files at ``commit`` in ``version``; the caller holds the write lock."""

    @abc.abstractmethod
    def rebuild(self, *, progress: Progress | None = None, force: bool = True) -> dict[str, Any]: ...

    def _outdated_live(self) -> bool:
        """Whether the live version is sound but of an older schema or analysis mode: searches answer from it while
        its replacement is rebuilt in the background, and a writer does not rebuild it in its own request."""
        return False

    def _ahead_of_git(self, commit: str) -> bool:
        """Whether the index reflects a commit this node's repository does not know yet (another node wrote it)."""
        return False

    def catch_up(self, *, wait: bool) -> str | None:
        """Bring the live index to HEAD from the diff; a full rebuild when the diff cannot be followed.

        ``wait=False`` (the lazy check of a search) gives up at once when another writer is busy.
        Returns the commit the index reflects afterwards, or None when it did not try.
        """
        need_rebuild = False
        try:
            with self._write_lock(wait=wait):
                live = self._live_version()
                if live is None:
                    need_rebuild = True
                else:
                    version, commit = live
                    head = self.source.head()
                    if commit == head:
                        return head
                    changed = self.source.changed_paths(commit, head)
                    if changed is None and self._ahead_of_git(commit):
                        return None
                    if changed is None or len(changed) > INCREMENTAL_LIMIT:
                        need_rebuild = True
                    else:
                        self._apply(version, changed, head)
                        return head
        except Conflict:
            if wait:
                raise
            return None
        if need_rebuild:
            if self._outdated_live():
                self._rebuild_in_background(force=False)  # it ends with a catch-up to HEAD, this commit included
                return None
            if wait:
                return self.rebuild(force=True)["commit"]
            self._rebuild_in_background()
        return None

    def _catch_up_behind(self) -> None:
        self.catch_up(wait=False)
        self._head_checked = 0.0  # the next search takes the new version (and its synonyms) at once

    def _rebuild_in_background(self, *, force: bool = True) -> None:
        """A full rebuild in a thread while the live index keeps answering (``force=False``: unless another process
        has built a usable one meanwhile — the replacement of an index of an older schema, which every process
        of every node asks for). A forced one goes through ``catch_up``: asked again while a rebuild runs (a search
        sees the same long diff every second), the pending run finds the index at HEAD and does not rebuild twice."""
        self._in_background("rebuild", (lambda: self.rebuild(force=False)) if not force
                            else (lambda: self.catch_up(wait=True)))

    def _in_background(self, what: str, work: Callable[[], object]) -> None:
        """``work`` in this index's runner for ``what`` (one running, one pending: see ``Coalescing``)."""
        with self._lock:
            runner = self._background.get(what)
            if runner is None:
                runner = self._background[what] = Coalescing(f"portal-search-{what}")
        runner.request(work)

    def settle(self, timeout: float | None = None) -> None:
        """Wait for this process's background catch-up and rebuild to finish (the command line, tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:  # a rebuild's closing catch-up may hand work to the other runner
            runners = list(self._background.values())
            for runner in runners:
                runner.settle(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if all(not r.busy for r in runners) or (deadline is not None and time.monotonic() >= deadline):
                return

    def runner(self, what: str) -> Coalescing | None:
        """This index's runner of ``what`` ("catch-up", "rebuild"), once anything ran in it."""
        return self._background.get(what)

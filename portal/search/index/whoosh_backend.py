"""The Whoosh implementation of the search backend: opening, catching up with git, writing and rebuilding.

Writers are serialised across processes by a file lock with a time-out (``search-index``); Whoosh's
own lock would raise ``LockError`` at once, and its ``AsyncWriter`` may lose writes at exit. Readers
never take the lock: each process keeps a small pool of searchers per index version and refreshes
it when ``CURRENT`` or the index's generation changes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeGuard

from whoosh import index as windex

from portal import locks
from portal.config import Settings
from portal.errors import Unavailable
from portal.search import analysis
from portal.search import query as sq
from portal.search.index.background import (
    HEAD_CHECK_SECONDS,
    REBUILD_LOCK,
    REBUILD_LOCK_TIMEOUT,
    WRITE_LOCK,
    WRITE_LOCK_TIMEOUT,
    CatchingUp,
)
from portal.search.index.generations import WHOOSH_LOCK_TIMEOUT, IndexStore, writing
from portal.search.index.protocol import Progress
from portal.search.index.reader import VersionReader
from portal.search.index.schema import SCHEMA_VERSION, build_schema, document
from portal.search.index.searching import Searching
from portal.search.index import whoosh_files
from portal.search.source import SYNONYMS_PATH, Source

log = logging.getLogger("portal.search")

whoosh_files.install()  # before any index is opened: segments read in place, not copied per searcher

# Postings a rebuild keeps in memory before sorting a run out to disk (Whoosh's own estimate). At 10,000 articles
# 128 spilled runs that the commit then merged in Python: 512 took a rebuild from 35.6 to 26.1 s of CPU, peak
# memory from 308 to 565 MB (the server process, during a rebuild only).
WRITER_LIMIT_MB = 512


class WhooshIndex(Searching, CatchingUp):
    def __init__(self, settings: Settings, mode: str = analysis.DEFAULT_MODE, *, cache_pages: bool = True):
        CatchingUp.__init__(self)
        self.settings = settings
        self.mode = mode
        self.cache_pages = cache_pages
        self.store = IndexStore(settings.index_path)
        self.source = Source(settings)
        self._lock = threading.RLock()
        self._reader: VersionReader | None = None
        self._head_checked = 0.0
        self._synonyms: tuple[str, sq.Synonyms] | None = None
        self.rebuilding: tuple[int, int] | None = None  # (article files read, of) while this process rebuilds

    # --- life cycle -----------------------------------------------------------------------------
    def _usable(self, gen: Path | None) -> TypeGuard[Path]:
        if gen is None:
            return False
        meta = self.store.meta(gen)
        if not (meta and meta.get("commit") and meta.get("schema") == SCHEMA_VERSION and meta.get("mode") == self.mode):
            return False
        try:
            return windex.exists_in(str(gen))
        except Exception:  # unreadable table of contents: a damaged index
            return False

    def _outdated(self, gen: Path | None) -> TypeGuard[Path]:
        """A sound generation of another schema or analysis mode (this code was upgraded): searches answer from it
        while the rebuild runs in the background."""
        meta = self.store.meta(gen) if gen is not None else None
        if not meta or not meta.get("commit") or (meta.get("schema"), meta.get("mode")) == (SCHEMA_VERSION, self.mode):
            return False
        try:
            return windex.exists_in(str(gen))
        except Exception:
            return False

    def _outdated_live(self) -> bool:
        return self._outdated(self.store.current())

    def _open(self) -> VersionReader:
        gen = self.store.current()
        if self._outdated(gen):
            try:
                reader = self._reader_of(gen)
            except Exception as exc:
                log.warning("search index %s of an older schema cannot be opened (%s): rebuilding", gen, exc)
            else:
                reader.outdated = True
                reader.answers = set(reader.ix.schema.names()) >= set(build_schema(self.mode).names())
                log.info("search index %s is of an older schema: %s while a rebuild runs", gen,
                         "it answers" if reader.answers else "searches say how far the rebuild is")
                self._rebuild_in_background(force=False)
                return reader
        if not self._usable(gen):
            log.log(logging.WARNING if gen else logging.INFO, "search index in %s is %s: rebuilding",
                    self.store.root, "unusable" if gen else "missing")
            self.rebuild(force=False)
            gen = self.store.current()
        try:
            return self._reader_of(gen)
        except Exception as exc:  # any doubt about a cache of git is settled by rebuilding it
            log.warning("search index %s cannot be opened (%s): rebuilding", gen, exc)
        self.rebuild(force=True)
        gen = self.store.current()
        try:
            return self._reader_of(gen)
        except Exception as exc:
            raise Unavailable(f"Поисковый индекс не открывается даже после перестроения: {exc}") from exc

    def _reader_of(self, gen: Path | None) -> VersionReader:
        """A reader of generation ``gen``; raises when there is none or it cannot be read."""
        if gen is None:
            raise FileNotFoundError(f"no live generation in {self.store.root}")
        ix = windex.open_dir(str(gen))
        return VersionReader(gen, ix, (self.store.meta(gen) or {})["commit"])

    def _current(self) -> VersionReader:
        """The reader of the live index version. Now and then HEAD is compared with the index's commit; when
        it moved, the catch-up runs in the background and this search answers from the version it has: a
        reader never waits for a writer (a catch-up of many articles, a rebuild)."""
        with self._lock:
            reader = self._reopened()
            now = time.monotonic()
            if now - self._head_checked < HEAD_CHECK_SECONDS:
                return reader
            self._head_checked = now
            try:
                head = self.source.head()
            except Exception:
                return reader
            if head != reader.commit:  # a catch-up that changed no article leaves the same files, a new commit
                reader.commit = (self.store.meta(reader.gen) or {}).get("commit", reader.commit)
            if reader.outdated:  # the rebuild that replaces it (started again if it failed)
                self._rebuild_in_background(force=False)
            elif head != reader.commit:
                self._in_background("catch-up", self._catch_up_behind)
            return reader

    def _reopened(self) -> VersionReader:
        """The current reader, replaced when ``CURRENT`` or the index's own generation changed."""
        reader = self._reader
        gen = self.store.current()
        if reader is not None and gen == reader.gen:
            try:
                if reader.ix.latest_generation() == reader.toc:
                    return reader
            except Exception:
                pass
        fresh = self._open()
        if reader is not None:
            reader.retire()
        self._reader = fresh
        return fresh

    @contextlib.contextmanager
    def searcher(self) -> Iterator[tuple[Any, VersionReader]]:
        reader = self._current()
        searcher = reader.take()
        try:
            yield searcher, reader
        finally:
            reader.give(searcher)

    def _write_lock(self, *, wait: bool) -> contextlib.AbstractContextManager[None]:
        return locks.held(self.settings.locks_path, WRITE_LOCK, timeout=WRITE_LOCK_TIMEOUT if wait else 0,
                          what="Обновление поискового индекса")

    def _live_version(self) -> tuple[Path, str] | None:
        gen = self.store.current()
        return (gen, (self.store.meta(gen) or {})["commit"]) if self._usable(gen) else None

    def _apply(self, gen: Path, paths: list[str], commit: str) -> None:
        """Re-index the given article files at ``commit`` in generation ``gen``; the caller holds the write lock."""
        if paths:
            with writing(gen) as writer:
                for path, article in self.source.articles(commit, paths):
                    writer.delete_by_term("path", path)
                    if article is not None:
                        writer.add_document(**document(article))
        self.store.write_meta(gen, commit=commit, updated_at=time.time())
        log.info("search index caught up to %s (%d article files)", commit[:10], len(paths))

    def rebuild(self, *, progress: Progress | None = None, force: bool = True) -> dict[str, Any]:
        """Index every published article of HEAD into a new generation and swap it in."""
        with locks.held(self.settings.locks_path, REBUILD_LOCK, timeout=REBUILD_LOCK_TIMEOUT,
                        what="Перестроение поискового индекса"):
            live = self.store.current()
            if not force and self._usable(live):  # another process built it meanwhile
                return self._described(live)
            started = time.monotonic()
            commit = self.source.head()
            try:
                with self.store.building() as gen:
                    ix = windex.create_in(str(gen), build_schema(self.mode))
                    total = self.source.count(commit)
                    done = indexed = 0
                    with writing(ix, limitmb=WRITER_LIMIT_MB, optimize=True) as writer:
                        for _path, article in self.source.articles(commit):
                            if article is not None:
                                writer.add_document(**document(article))
                                indexed += 1
                            done += 1
                            self.rebuilding = (done, total)
                            if progress:
                                progress(done, total)
                    ix.close()
                    self.store.write_meta(gen, commit=commit, schema=SCHEMA_VERSION, mode=self.mode,
                                          articles=indexed, files=total, built_at=time.time(),
                                          build_seconds=round(time.monotonic() - started, 3))
                    with self._write_lock(wait=True):
                        head = self.source.head()
                        if head != commit:
                            changed = self.source.changed_paths(commit, head)
                            if changed is not None:
                                self._apply(gen, changed, head)
                        self.store.swap(gen)
            finally:
                self.rebuilding = None
            log.info("search index rebuilt: %d articles at %s in %.1f s", indexed, commit[:10],
                     time.monotonic() - started)
            return self._described(gen)

    def close(self) -> None:
        """Close this process's searchers (the index on disk stays)."""
        with self._lock:
            if self._reader is not None:
                self._reader.retire()
                self._reader = None

    def info(self) -> dict[str, Any]:
        gen = self.store.current()
        if gen is None:
            return {}
        meta = self._described(gen)
        meta["bytes"] = sum(p.stat().st_size for p in gen.iterdir() if p.is_file())
        return meta

    def _described(self, gen: Path) -> dict[str, Any]:
        """A generation's record and where it lives (what ``portal search`` prints)."""
        return {**(self.store.meta(gen) or {}), "backend": "whoosh", "path": str(gen), "where": str(gen)}

    def synonyms(self, commit: str) -> sq.Synonyms:
        cached = self._synonyms
        if cached is not None and cached[0] == commit:
            return cached[1]
        text = self.source.read(commit, SYNONYMS_PATH) or ""
        parsed = sq.synonyms(text, self.mode)
        self._synonyms = (commit, parsed)
        return parsed


_BACKENDS: dict[Path, WhooshIndex] = {}
_BACKENDS_LOCK = threading.Lock()


MAX_BACKENDS = 8  # data homes one process serves (tests make many); the least recent is closed


def backend(settings: Settings) -> WhooshIndex:
    """The process's index object for this data home (shared, so searchers are reused)."""
    key = settings.index_path
    with _BACKENDS_LOCK:
        found = _BACKENDS.pop(key, None)
        if found is None or found.settings.content_path != settings.content_path:
            found = WhooshIndex(settings)
        _BACKENDS[key] = found  # most recent last
        while len(_BACKENDS) > MAX_BACKENDS:
            _BACKENDS.pop(next(iter(_BACKENDS))).close()
        return found

"""The search index: a small protocol and its Whoosh implementation.

Layout of ``$PORTAL_HOME/index``::

    CURRENT            name of the live generation (replaced atomically)
    gen-<time>-<pid>/  one Whoosh index plus portal.json: the commit it reflects, schema and analyzer

The index is a cache of git. It rebuilds itself when missing, unreadable, of another schema or
analyzer, or when its commit cannot be followed to HEAD; otherwise it catches up incrementally from
the diff between its commit and HEAD (after every publish through the knowledge hook, and lazily
when a search finds HEAD moved). A full rebuild writes a new generation beside the live one and
swaps ``CURRENT``, so searches keep answering meanwhile.

Writers are serialised across processes by a file lock with a time-out (``search-index``); Whoosh's
own lock would raise ``LockError`` at once, and its ``AsyncWriter`` may lose writes at exit. Readers
never take the lock: each process keeps a small pool of searchers per index version and refreshes
it when ``CURRENT`` or the index's generation changes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from whoosh import index as windex
from whoosh import query as wq
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema
from whoosh.reading import TermNotFound

from portal import locks
from portal.config import Settings
from portal.errors import Conflict, Unavailable
from portal.search import analysis
from portal.search import query as sq
from portal.search.source import SYNONYMS_PATH, Article, Source

log = logging.getLogger("portal.search")

SCHEMA_VERSION = 5
META_FILE = "portal.json"
CURRENT_FILE = "CURRENT"
WRITE_LOCK = "search-index"
REBUILD_LOCK = "search-rebuild"
WRITE_LOCK_TIMEOUT = 60.0
REBUILD_LOCK_TIMEOUT = 30 * 60.0
WHOOSH_LOCK_TIMEOUT = 10.0
HEAD_CHECK_SECONDS = 1.0
INCREMENTAL_LIMIT = 500  # more changed articles than this: a full rebuild is cheaper
WRITER_LIMIT_MB = 128
POOL_SIZE = 8
SET_CACHE_SIZE = 4096  # document sets of terms and phrases kept per index version
SCORE_LIMIT = 300  # above this many matches only the likeliest tiers are scored (see WhooshIndex._candidates)
PAGE_CACHE_SIZE = 1024  # answered searches kept per index version (a new version starts empty)
FACET_FIELDS = ("module", "kind", "version", "tag")
FEW_HITS = 3  # below this a "did you mean" is looked for
AUDIENCE_SPELL_FIELD = {"public": "spell_public", "customers": "spell_customers", "internal": "spell_internal"}

Progress = Callable[[int, int], None]


# --- the protocol -------------------------------------------------------------------------------


@dataclass
class SearchRequest:
    text: str
    audiences: tuple[str, ...]
    module: str | None = None
    kind: str | None = None
    version: str | None = None
    tag: str | None = None
    sort: str = "relevance"  # relevance | date
    limit: int = 10
    offset: int = 0

    def filters(self) -> dict[str, str | None]:
        return {"module": self.module, "kind": self.kind, "version": self.version, "tag": self.tag}


@dataclass
class Hit:
    slug: str
    title: str
    snippet: str
    score: float
    url: str
    module: str
    kind: str
    path: str = ""
    summary: str = ""
    product_versions: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    fixed_in: list[str] = field(default_factory=list)
    updated: int = 0


@dataclass
class SearchPage:
    total: int
    hits: list[Hit]
    facets: dict[str, list[dict[str, Any]]]
    suggestion: str | None = None  # "did you mean"
    corrected: bool = False  # the hits are those of the suggestion (the query itself found nothing)
    matched: str = "all"  # all | any | fuzzy | none: which words a hit had to contain


class SearchBackend(Protocol):
    def search(self, request: SearchRequest) -> SearchPage: ...
    def suggest(self, text: str, audiences: tuple[str, ...], limit: int) -> list[Hit]: ...
    def similar(self, slug: str, audiences: tuple[str, ...], limit: int) -> list[Hit]: ...
    def catch_up(self, *, wait: bool) -> str | None: ...
    def rebuild(self, *, progress: Progress | None = None, force: bool = True) -> dict[str, Any]: ...
    def info(self) -> dict[str, Any]: ...


# --- schema and documents -----------------------------------------------------------------------


def build_schema(mode: str) -> Schema:
    return Schema(
        path=ID(stored=True, unique=True),
        slug=ID(stored=True),
        # Title, summary (with tags) and body in one field, each word weighted by its section.
        text=TEXT(analyzer=analysis.text_analyzer(mode)),
        # Codes (ticket IDs, error codes, versions, fixed-in packages) as written, weighted the same way.
        codes=TEXT(analyzer=analysis.code_analyzer(), phrase=False),
        body=STORED(),  # plain text for snippets and similar articles
        title_words=TEXT(analyzer=analysis.words_analyzer(), phrase=False),  # completion of the word being typed
        title_terms=TEXT(analyzer=analysis.text_analyzer(mode), phrase=False),  # which matches hold a word in the title
        module=ID(),
        kind=ID(),
        version=KEYWORD(commas=True),
        tag=KEYWORD(commas=True, lowercase=True),
        visibility=ID(stored=True),
        updated=NUMERIC(bits=64, sortable=True),
        meta=STORED(),
        spell_public=TEXT(analyzer=analysis.spell_analyzer(), phrase=False),
        spell_customers=TEXT(analyzer=analysis.spell_analyzer(), phrase=False),
        spell_internal=TEXT(analyzer=analysis.spell_analyzer(), phrase=False),
    )


def document(article: Article) -> dict[str, Any]:
    summary = " ".join([article.summary, " ".join(article.tags)]).strip()
    codes = " ".join(article.tickets + article.fixed_in + article.product_versions)
    return {
        "path": article.path,
        "slug": article.slug,
        "text": analysis.sections(article.title, summary, article.body),
        "codes": analysis.sections(f"{article.title} {codes}", article.summary, article.body),
        "body": article.body,
        "title_words": article.title,
        "title_terms": article.title,
        "module": article.module,
        "kind": article.kind,
        "version": ",".join(article.product_versions or [sq.ANY_VERSION]),
        "tag": ",".join(article.tags),
        "visibility": article.visibility,
        "updated": int(article.updated),
        "meta": {
            "path": article.path, "slug": article.slug, "section": article.section, "url": article.url,
            "title": article.title, "summary": article.summary, "module": article.module,
            "kind": article.kind, "product_versions": article.product_versions, "tags": article.tags,
            "fixed_in": article.fixed_in, "tickets": article.tickets, "visibility": article.visibility,
            "updated": int(article.updated),
        },
        AUDIENCE_SPELL_FIELD[article.visibility]: f"{article.title}\n{summary}\n{article.body}",
    }


# --- the directory of generations ---------------------------------------------------------------


class IndexStore:
    def __init__(self, root: Path):
        self.root = root

    def current(self) -> Path | None:
        try:
            name = (self.root / CURRENT_FILE).read_text().strip()
        except OSError:
            return None
        path = self.root / name
        return path if name and "/" not in name and path.is_dir() else None

    def new_generation(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"gen-{time.time_ns()}-{os.getpid()}"
        path.mkdir()
        return path

    def publish(self, gen: Path) -> None:
        tmp = self.root / f"{CURRENT_FILE}.{os.getpid()}.tmp"
        tmp.write_text(gen.name + "\n")
        os.replace(tmp, self.root / CURRENT_FILE)

    @staticmethod
    def meta(gen: Path) -> dict[str, Any] | None:
        try:
            data = json.loads((gen / META_FILE).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def write_meta(gen: Path, **values: Any) -> None:
        data = IndexStore.meta(gen) or {}
        data.update(values)
        tmp = gen / f"{META_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, gen / META_FILE)

    def prune(self, keep: set[Path]) -> None:
        """Remove generations other than ``keep`` (the live one and the one before, for readers mid-switch)."""
        names = {p.name for p in keep if p is not None}
        for path in self.root.glob("gen-*"):
            if path.name not in names:
                shutil.rmtree(path, ignore_errors=True)


# --- readers --------------------------------------------------------------------------------------


class _Reader:
    """One version of the index as this process reads it: a pool of searchers, and caches of document sets.

    Document sets (the documents holding a term, a phrase, a reader's allowed visibilities) are plain
    Python sets: totals, facets and the visibility filter become set algebra in C instead of
    Whoosh's matchers walking every posting in Python. They belong to one index version and are
    dropped with it.
    """

    def __init__(self, gen: Path, ix, commit: str):
        self.gen = gen
        self.ix = ix
        self.toc = ix.latest_generation()
        self.commit = commit
        self.pool: queue.LifoQueue = queue.LifoQueue()
        self.retired = False
        self._facets: dict[str, dict[str, set[int]]] | None = None
        self._sets: OrderedDict[Any, set[int]] = OrderedDict()
        self._pages: OrderedDict[Any, SearchPage] = OrderedDict()
        self._live: set[int] | None = None
        self._lock = threading.Lock()

    def take(self):
        try:
            return self.pool.get_nowait()
        except queue.Empty:
            return self.ix.searcher()

    def give(self, searcher) -> None:
        if self.retired or self.pool.qsize() >= POOL_SIZE:
            searcher.close()
        else:
            self.pool.put(searcher)

    def retire(self) -> None:
        self.retired = True
        while True:
            try:
                self.pool.get_nowait().close()
            except queue.Empty:
                return

    # --- document sets ----------------------------------------------------------------------
    def _cached(self, key, compute: Callable[[], set[int]]) -> set[int]:
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
                return found
        value = compute()
        with self._lock:
            self._sets[key] = value
            while len(self._sets) > SET_CACHE_SIZE:
                self._sets.popitem(last=False)
        return value

    def page(self, key) -> SearchPage | None:
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
            return found

    def keep_page(self, key, page: SearchPage) -> None:
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > PAGE_CACHE_SIZE:
                self._pages.popitem(last=False)

    def live(self, searcher) -> set[int]:
        """Every document not deleted."""
        if self._live is None:
            self._live = set(searcher.reader().all_doc_ids())
        return self._live

    def _term(self, searcher, fieldname: str, text: str) -> set[int]:
        def compute() -> set[int]:
            reader = searcher.reader()
            try:
                ids = set(reader.postings(fieldname, text).all_ids())
            except TermNotFound:
                return set()
            return ids & self.live(searcher) if reader.has_deletions() else ids

        return self._cached(("term", fieldname, text), compute)

    def docs(self, searcher, q: wq.Query) -> set[int]:
        """The documents matching ``q`` (a tree of And, Or, AndMaybe, Term; anything else asked of Whoosh)."""
        if isinstance(q, wq.Term):
            return self._term(searcher, q.fieldname, q.text)
        if isinstance(q, wq.And):
            sets = sorted((self.docs(searcher, sub) for sub in q.subqueries), key=len)
            if not sets:
                return set()
            out = sets[0]
            for other in sets[1:]:
                out = out & other
                if not out:
                    break
            return out
        if isinstance(q, wq.Or):
            out = set()
            for sub in q.subqueries:
                out = out | self.docs(searcher, sub)
            return out
        if isinstance(q, wq.AndMaybe):
            return self.docs(searcher, q.a)
        if isinstance(q, wq.ConstantScoreQuery):
            return self.docs(searcher, q.child)
        if isinstance(q, wq.Every):
            return self.live(searcher)
        if isinstance(q, type(wq.NullQuery)):
            return set()
        return self._cached(("query", q), lambda: set(searcher.docs_for_query(q)))

    def facet_postings(self, searcher) -> dict[str, dict[str, set[int]]]:
        if self._facets is None:
            reader = searcher.reader()
            facets: dict[str, dict[str, set[int]]] = {}
            for fieldname in FACET_FIELDS:
                values = {}
                for btext in reader.lexicon(fieldname):
                    value = btext.decode("utf-8")
                    values[value] = set(reader.postings(fieldname, value).all_ids())
                facets[fieldname] = values
            self._facets = facets
        return self._facets


# --- the Whoosh implementation --------------------------------------------------------------------


class WhooshIndex:
    def __init__(self, settings: Settings, mode: str = analysis.DEFAULT_MODE, *, cache_pages: bool = True):
        self.settings = settings
        self.mode = mode
        self.cache_pages = cache_pages
        self.store = IndexStore(settings.index_path)
        self.source = Source(settings)
        self._lock = threading.RLock()
        self._reader: _Reader | None = None
        self._head_checked = 0.0
        self._synonyms: tuple[str, sq.Synonyms] | None = None
        self._rebuilding: threading.Thread | None = None

    # --- life cycle -----------------------------------------------------------------------------
    def _usable(self, gen: Path | None) -> bool:
        if gen is None:
            return False
        meta = self.store.meta(gen)
        if not (meta and meta.get("commit") and meta.get("schema") == SCHEMA_VERSION and meta.get("mode") == self.mode):
            return False
        try:
            return windex.exists_in(str(gen))
        except Exception:  # unreadable table of contents: a damaged index
            return False

    def _open(self) -> _Reader:
        gen = self.store.current()
        if not self._usable(gen):
            log.log(logging.WARNING if gen else logging.INFO, "search index in %s is %s: rebuilding",
                    self.store.root, "unusable" if gen else "missing")
            self.rebuild(force=False)
            gen = self.store.current()
        try:
            ix = windex.open_dir(str(gen))
            return _Reader(gen, ix, self.store.meta(gen)["commit"])
        except Exception as exc:  # any doubt about a cache of git is settled by rebuilding it
            log.warning("search index %s cannot be opened (%s): rebuilding", gen, exc)
        self.rebuild(force=True)
        gen = self.store.current()
        try:
            ix = windex.open_dir(str(gen))
            return _Reader(gen, ix, self.store.meta(gen)["commit"])
        except Exception as exc:
            raise Unavailable(f"Поисковый индекс не открывается даже после перестроения: {exc}") from exc

    def _current(self) -> _Reader:
        """The reader of the live index version; now and then HEAD is compared with the index's commit."""
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
            if head == reader.commit:
                return reader
            self.catch_up(wait=False)
            reader = self._reopened()
            reader.commit = (self.store.meta(reader.gen) or {}).get("commit", reader.commit)
            return reader

    def _reopened(self) -> _Reader:
        """The current reader, replaced when ``CURRENT`` or the index's own generation changed."""
        reader = self._reader
        gen = self.store.current()
        changed = reader is None or gen != reader.gen
        if not changed:
            try:
                changed = reader.ix.latest_generation() != reader.toc
            except Exception:
                changed = True
        if changed:
            fresh = self._open()
            if reader is not None:
                reader.retire()
            self._reader = reader = fresh
        return reader

    @contextlib.contextmanager
    def searcher(self) -> Iterator[tuple[Any, _Reader]]:
        reader = self._current()
        searcher = reader.take()
        try:
            yield searcher, reader
        finally:
            reader.give(searcher)

    def catch_up(self, *, wait: bool) -> str | None:
        """Bring the live index to HEAD from the diff; a full rebuild when the diff cannot be followed.

        ``wait=False`` (the lazy check of a search) gives up at once when another writer is busy.
        Returns the commit the index reflects afterwards, or None when it did not try.
        """
        need_rebuild = False
        try:
            with locks.held(self.settings.locks_path, WRITE_LOCK, timeout=WRITE_LOCK_TIMEOUT if wait else 0,
                            what="Обновление поискового индекса"):
                gen = self.store.current()
                if not self._usable(gen):
                    need_rebuild = True
                else:
                    commit = self.store.meta(gen)["commit"]
                    head = self.source.head()
                    if commit == head:
                        return head
                    changed = self.source.changed_paths(commit, head)
                    if changed is None or len(changed) > INCREMENTAL_LIMIT:
                        need_rebuild = True
                    else:
                        self._apply(gen, changed, head)
                        return head
        except Conflict:
            if wait:
                raise
            return None
        if need_rebuild:
            if wait:
                return self.rebuild(force=True)["commit"]
            self._rebuild_in_background()
        return None

    def _rebuild_in_background(self) -> None:
        """A full rebuild in a thread while the live index keeps answering (one at a time per process)."""
        with self._lock:
            if self._rebuilding is not None and self._rebuilding.is_alive():
                return

            def run():
                try:
                    self.rebuild(force=True)
                except Exception:
                    log.exception("background rebuild of the search index failed")

            self._rebuilding = threading.Thread(target=run, name="portal-search-rebuild", daemon=True)
            self._rebuilding.start()

    def _apply(self, gen: Path, paths: list[str], commit: str) -> None:
        """Re-index the given article files at ``commit`` in generation ``gen``; the caller holds the write lock."""
        if paths:
            ix = windex.open_dir(str(gen))
            try:
                writer = ix.writer(timeout=WHOOSH_LOCK_TIMEOUT)
                try:
                    for path, article in self.source.articles(commit, paths):
                        writer.delete_by_term("path", path)
                        if article is not None:
                            writer.add_document(**document(article))
                except BaseException:
                    writer.cancel()
                    raise
                writer.commit()
            finally:
                ix.close()
        self.store.write_meta(gen, commit=commit, updated_at=time.time())
        log.info("search index caught up to %s (%d article files)", commit[:10], len(paths))

    def rebuild(self, *, progress: Progress | None = None, force: bool = True) -> dict[str, Any]:
        """Index every published article of HEAD into a new generation and swap it in."""
        with locks.held(self.settings.locks_path, REBUILD_LOCK, timeout=REBUILD_LOCK_TIMEOUT,
                        what="Перестроение поискового индекса"):
            if not force and self._usable(self.store.current()):  # another process built it meanwhile
                return dict(self.store.meta(self.store.current()))
            started = time.monotonic()
            commit = self.source.head()
            gen = self.store.new_generation()
            try:
                ix = windex.create_in(str(gen), build_schema(self.mode))
                writer = ix.writer(limitmb=WRITER_LIMIT_MB)
                total = self.source.count(commit)
                done = indexed = 0
                try:
                    for _path, article in self.source.articles(commit):
                        if article is not None:
                            writer.add_document(**document(article))
                            indexed += 1
                        done += 1
                        if progress:
                            progress(done, total)
                except BaseException:
                    writer.cancel()
                    raise
                writer.commit(optimize=True)
                ix.close()
                self.store.write_meta(gen, commit=commit, schema=SCHEMA_VERSION, mode=self.mode,
                                      articles=indexed, files=total, built_at=time.time(),
                                      build_seconds=round(time.monotonic() - started, 3))
                with locks.held(self.settings.locks_path, WRITE_LOCK, timeout=WRITE_LOCK_TIMEOUT,
                                what="Обновление поискового индекса"):
                    head = self.source.head()
                    if head != commit:
                        changed = self.source.changed_paths(commit, head)
                        if changed is not None:
                            self._apply(gen, changed, head)
                    previous = self.store.current()
                    self.store.publish(gen)
                    self.store.prune({gen, previous})
            except BaseException:
                shutil.rmtree(gen, ignore_errors=True)
                raise
            log.info("search index rebuilt: %d articles at %s in %.1f s", indexed, commit[:10],
                     time.monotonic() - started)
            return dict(self.store.meta(gen))

    def close(self) -> None:
        """Close this process's searchers (the index on disk stays)."""
        with self._lock:
            if self._reader is not None:
                self._reader.retire()
                self._reader = None

    def info(self) -> dict[str, Any]:
        gen = self.store.current()
        meta = dict(self.store.meta(gen) or {}) if gen else {}
        if gen:
            meta["path"] = str(gen)
            meta["bytes"] = sum(p.stat().st_size for p in gen.iterdir() if p.is_file())
        return meta

    def synonyms(self, commit: str) -> sq.Synonyms:
        cached = self._synonyms
        if cached is not None and cached[0] == commit:
            return cached[1]
        text = self.source.read(commit, SYNONYMS_PATH) or ""
        parsed = sq.Synonyms.parse(text, self.mode)
        self._synonyms = (commit, parsed)
        return parsed

    # --- searching ------------------------------------------------------------------------------
    #
    # Visibility and the filters are a set of allowed documents, computed from the index's own
    # visibility/module/kind/version/tag postings for this reader, and applied inside the search:
    # matches outside it are never scored, counted, faceted, highlighted, suggested or offered as a
    # correction. It is not a post-filter of a result page.

    def _allowed(self, searcher, reader: _Reader, audiences: tuple[str, ...], filters: dict[str, str | None]):
        return reader.docs(searcher, sq.restriction(audiences, filters))

    def search(self, request: SearchRequest) -> SearchPage:
        """One page of results; a repeated search of the same index version is answered from memory."""
        with self.searcher() as (searcher, reader):
            # The commit is part of the key: the synonyms file may change without any article changing.
            key = (reader.commit, request.text, request.audiences, tuple(request.filters().items()), request.sort,
                   request.limit, request.offset)
            page = reader.page(key) if self.cache_pages else None
            if page is None:
                page = self._search(searcher, reader, request)
                if self.cache_pages:
                    reader.keep_page(key, page)
            return page

    def _search(self, searcher, reader: _Reader, request: SearchRequest) -> SearchPage:
        parsed = sq.parse(request.text)
        browsing = parsed.empty and any(request.filters().values())
        if parsed.empty and not browsing:
            return SearchPage(total=0, hits=[], facets={}, matched="none")
        allowed = self._allowed(searcher, reader, request.audiences, request.filters())
        synonyms = self.synonyms(reader.commit)
        if browsing:
            return self._run(searcher, reader, wq.Every(), allowed, request, parsed, synonyms, sort="date")
        page = self._attempt(searcher, reader, parsed, allowed, request, synonyms, require_all=True)
        suggestion = None
        if page.total == 0:
            # Nothing with every word: the spelling correction first, then any word, then similar words.
            suggestion = self._correction(searcher, reader, parsed, request.audiences, allowed, synonyms)
            if suggestion is not None:
                page = self._attempt(searcher, reader, sq.parse(suggestion), allowed, request, synonyms,
                                     require_all=True)
                page.suggestion, page.corrected = suggestion, True
                return page
            if len(parsed.units) > 1:
                page = self._attempt(searcher, reader, parsed, allowed, request, synonyms, require_all=False)
                page.matched = "any"
            if page.total == 0:
                q = wq.Or(sq.nodes(parsed, self.mode, synonyms, fuzzy=True))
                page = self._run(searcher, reader, q, allowed, request, parsed, synonyms)
                page.matched = "fuzzy" if page.total else "none"
        elif page.total < FEW_HITS:
            suggestion = self._correction(searcher, reader, parsed, request.audiences, allowed, synonyms,
                                          known_total=page.total)
        page.suggestion = suggestion
        return page

    def _attempt(self, searcher, reader: _Reader, parsed: sq.Parsed, allowed: set[int], request: SearchRequest,
                 synonyms: sq.Synonyms, *, require_all: bool) -> SearchPage:
        parts = sq.nodes(parsed, self.mode, synonyms)
        q = sq.combine(parts, parsed, self.mode, require_all=require_all)
        page = self._run(searcher, reader, q, allowed, request, parsed, synonyms)
        page.matched = "all" if require_all else "any"
        return page

    def _run(self, searcher, reader: _Reader, q: wq.Query, allowed: set[int], request: SearchRequest,
             parsed: sq.Parsed, synonyms: sq.Synonyms, sort: str | None = None) -> SearchPage:
        matched = reader.docs(searcher, q) & allowed
        page = SearchPage(total=len(matched), hits=[], facets=self._facets(searcher, reader, matched))
        want = request.offset + request.limit
        if not matched or request.offset >= len(matched):
            return page
        if (sort or request.sort) == "date":
            top = searcher.search(q, limit=want, sortedby="updated", reverse=True, filter=matched).top_n
        else:
            top = self._score(searcher, q, self._candidates(searcher, reader, q, matched, want), want)
        words, codes = sq.match_forms(parsed, self.mode, synonyms)
        for score, docnum in top[request.offset:want]:
            stored = searcher.stored_fields(docnum)
            meta = stored["meta"]
            text = sq.snippet([stored.get("body", ""), meta.get("summary", "")], words, codes, self.mode)
            page.hits.append(_hit(meta, score=round(float(score or 0.0), 4), snippet=str(text)))
        return page

    @staticmethod
    def _candidates(searcher, reader: _Reader, q: wq.Query, matched: set[int], want: int) -> set[int]:
        """The matches worth scoring. Up to SCORE_LIMIT, all of them; above it, tiers by the title —
        every concept of the query in the title, then any — grown until they fill the page. A title
        word weighs four body words, so the best-scored articles are almost always in the first tiers;
        totals and facets still count every match."""
        if len(matched) <= SCORE_LIMIT:
            return matched
        titled = _to_title(q)
        concepts = titled.subqueries if isinstance(titled, wq.And) else [titled]
        every = reader.docs(searcher, titled) & matched
        if len(every) >= want:
            return every
        anyone = set()
        for concept in concepts:
            anyone |= reader.docs(searcher, concept)
        some = every | (anyone & matched)
        return some if len(some) >= want else matched

    @staticmethod
    def _score(searcher, q: wq.Query, docs: set[int], limit: int) -> list[tuple[float, int]]:
        """(score, docnum) of the best ``limit`` of ``docs``, moving the matchers only to those documents."""
        ordered = sorted(docs)
        scored: list[tuple[float, int]] = []
        for sub, offset in searcher.leaf_searchers():
            end = offset + sub.doc_count_all()
            mine = [d - offset for d in ordered if offset <= d < end]
            if not mine:
                continue
            matcher = q.matcher(sub, sub.context())
            for local in mine:
                if not matcher.is_active():
                    break
                if matcher.id() < local:
                    matcher.skip_to(local)
                    if not matcher.is_active():
                        break
                if matcher.id() == local:
                    scored.append((matcher.score(), local + offset))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return scored[:limit]

    @staticmethod
    def _facets(searcher, reader: _Reader, docs: set[int]) -> dict[str, list[dict[str, Any]]]:
        postings = reader.facet_postings(searcher)
        out: dict[str, list[dict[str, Any]]] = {}
        for fieldname in FACET_FIELDS:
            counts = []
            if docs:
                for value, ids in postings[fieldname].items():
                    if value == sq.ANY_VERSION or not value:
                        continue
                    n = len(docs & ids)
                    if n:
                        counts.append({"value": value, "count": n})
            counts.sort(key=lambda c: (-c["count"], c["value"]))
            out[fieldname] = counts
        return out

    def _correction(self, searcher, reader: _Reader, parsed: sq.Parsed, audiences: tuple[str, ...],
                    allowed: set[int], synonyms: sq.Synonyms, known_total: int = 0) -> str | None:
        """The query with misspelt words replaced from the reader's own dictionary, when it then finds more.

        The dictionary of an audience learns only from articles of that visibility, and the corrected
        query must find articles the reader may see, so no word of a hidden article is ever suggested.
        """
        ixreader = searcher.reader()
        fields = [AUDIENCE_SPELL_FIELD[a] for a in audiences]
        changed = False
        units = []
        for unit in parsed.units:
            word = unit.text
            if unit.kind != "word" or not 4 <= len(word) <= sq.MAX_FUZZY_CHARS or not word.isalpha():
                units.append(unit)
                continue
            norm = analysis.normalise(word, self.mode)
            if any(ixreader.frequency(f, word) for f in fields) or ixreader.frequency("text", norm):
                units.append(unit)  # a known word (or a form of one) is not corrected
                continue
            best = None
            maxdist = 1 if len(word) <= 5 else 2
            for fieldname in fields:
                # Most typos spare the first letter; only when that finds nothing is it allowed to differ.
                for prefix in (1, 0):
                    found = False
                    for candidate in ixreader.terms_within(fieldname, word, maxdist, prefix=prefix):
                        found = True
                        key = (_distance(word, candidate), -ixreader.frequency(fieldname, candidate), candidate)
                        if best is None or key < best:
                            best = key
                    if found:
                        break
            if best is None:
                units.append(unit)
            else:
                units.append(sq.Unit("word", best[2]))
                changed = True
        if not changed:
            return None
        fixed = sq.Parsed(units)
        q = sq.combine(sq.nodes(fixed, self.mode, synonyms), fixed, self.mode, require_all=True)
        if len(reader.docs(searcher, q) & allowed) <= known_total:
            return None
        return fixed.text()

    # --- suggestions and similar articles -------------------------------------------------------
    def suggest(self, text: str, audiences: tuple[str, ...], limit: int) -> list[Hit]:
        """Articles whose title starts like what is being typed (the last word may be unfinished)."""
        cleaned = sq.clean(text or "")
        parsed = sq.parse(cleaned)
        if parsed.empty:
            return []
        last = parsed.units[-1]
        complete = sq.Parsed(parsed.units[:-1])
        with self.searcher() as (searcher, reader):
            synonyms = self.synonyms(reader.commit)
            allowed = self._allowed(searcher, reader, audiences, {})
            parts = sq.nodes(complete, self.mode, synonyms) if not complete.empty else []
            prefix_options = [sq.nodes(sq.Parsed([last]), self.mode, synonyms)[0]]
            if last.kind != "phrase" and len(last.text) >= 2 and not cleaned.endswith(" "):
                prefix_options.append(wq.Prefix("title_words", last.text, boost=2.0))
                if last.kind == "code":
                    prefix_options.append(wq.Prefix("codes", last.text))
            parts.append(wq.Or(prefix_options))
            hits: list[Hit] = []
            for require_all in (True, False):
                q = wq.And(parts) if require_all else wq.Or(parts)
                matched = reader.docs(searcher, q) & allowed
                if matched:
                    results = searcher.search(q, limit=limit, filter=matched)
                    hits = [_hit(searcher.stored_fields(d)["meta"], score=round(float(sc or 0.0), 4), snippet="")
                            for sc, d in results.top_n]
                if hits or len(parts) < 2:
                    break
            return hits

    def similar(self, slug: str, audiences: tuple[str, ...], limit: int) -> list[Hit]:
        """Articles sharing the most telling words of this one; nothing when the reader may not see it."""
        with self.searcher() as (searcher, reader):
            allowed = self._allowed(searcher, reader, audiences, {})
            own = sorted(reader.docs(searcher, wq.Term("slug", slug)) & allowed)
            if not own:
                return []
            docnum = own[0]
            stored = searcher.stored_fields(docnum)
            meta = stored["meta"]
            text = f"{meta['title']}\n{meta['title']}\n{meta.get('summary', '')}\n{stored.get('body', '')}"
            terms = searcher.key_terms_from_text("text", text, numterms=15)
            if not terms:
                return []
            likeness = wq.Or([wq.Term("text", word, boost=weight) for word, weight in terms]
                             + [wq.Term("tag", t) for t in meta.get("tags", [])])
            candidates = (reader.docs(searcher, likeness) & allowed) - {docnum}
            if not candidates:
                return []
            results = searcher.search(likeness, limit=limit, filter=candidates)
            return [_hit(searcher.stored_fields(d)["meta"], score=round(float(sc or 0.0), 4), snippet="")
                    for sc, d in results.top_n]


def _to_title(q: wq.Query) -> wq.Query:
    """The same query asked of the titles only (phrases loosened to all their words)."""
    if isinstance(q, wq.Term) and q.fieldname == "text":
        return wq.Term("title_terms", q.text)
    if isinstance(q, wq.Phrase) and q.fieldname == "text":
        return wq.And([wq.Term("title_terms", w) for w in q.words])
    if isinstance(q, (wq.And, wq.Or)):
        return type(q)([_to_title(sub) for sub in q.subqueries])
    if isinstance(q, wq.AndMaybe):
        return _to_title(q.a)
    return q


def _hit(meta: dict[str, Any], *, score: float, snippet: str) -> Hit:
    return Hit(slug=meta["slug"], title=meta["title"], snippet=snippet, score=score, url=meta["url"],
               module=meta.get("module", ""), kind=meta.get("kind", ""), path=meta["path"],
               summary=meta.get("summary", ""), product_versions=list(meta.get("product_versions", [])),
               tags=list(meta.get("tags", [])), fixed_in=list(meta.get("fixed_in", [])),
               updated=int(meta.get("updated", 0)))


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


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

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

The package, bottom up (each module imports only those above it in this list):

    protocol.py        what a backend offers: SearchRequest, Hit, SearchPage, SearchBackend
    background.py      following git: the catch-up from the diff, and what a search leaves to a thread
    generations.py     the directory of generations: CURRENT, the swap, portal.json
    schema.py          the Whoosh schema and the document of one article (SCHEMA_VERSION)
    reader.py          one index version as this process reads it: searchers, document sets, caches
    ranking.py         which matches are scored, facets, the spelling correction, completions, hits
                       (the steps both backends share read a ``Lexicon``: a query's documents, a
                       term's frequency, the terms near a word)
    searching.py       searches, completions and similar articles over a reader
    whoosh_backend.py  WhooshIndex: opening, catching up with git, writing, rebuilding; backend()
    pg_documents.py    an article as rows of the PostgreSQL index (the same analysis, as tsvectors)
    pg_backend.py      PgIndex: the same protocol over tables in the shared PostgreSQL database

``backend(settings)`` below picks the one ``PORTAL_SEARCH_BACKEND`` names.
"""

from portal.config import Settings
from portal.search.index import pg_backend, whoosh_backend
from portal.search.index.background import INCREMENTAL_LIMIT
from portal.search.index.generations import CURRENT_FILE, META_FILE, IndexStore
from portal.search.index.pg_backend import PgIndex
from portal.search.index.protocol import Hit, Progress, SearchBackend, SearchPage, SearchRequest
from portal.search.index.ranking import FEW_HITS, SCORE_LIMIT
from portal.search.index.reader import PAGE_CACHE_SIZE, POOL_SIZE, SET_CACHE_SIZE, VersionReader
from portal.search.index.schema import (
    AUDIENCE_SPELL_FIELD,
    FACET_FIELDS,
    SCHEMA_VERSION,
    build_schema,
    document,
)
from portal.search.index.whoosh_backend import (
    HEAD_CHECK_SECONDS,
    MAX_BACKENDS,
    REBUILD_LOCK,
    REBUILD_LOCK_TIMEOUT,
    WHOOSH_LOCK_TIMEOUT,
    WRITE_LOCK,
    WRITE_LOCK_TIMEOUT,
    WRITER_LIMIT_MB,
    WhooshIndex,
)


def backend(settings: Settings) -> WhooshIndex | PgIndex:
    """The process's search backend for this data home, as ``PORTAL_SEARCH_BACKEND`` chooses."""
    if settings.search_backend == "postgresql":
        return pg_backend.backend(settings)
    return whoosh_backend.backend(settings)


__all__ = [
    "AUDIENCE_SPELL_FIELD", "CURRENT_FILE", "FACET_FIELDS", "FEW_HITS", "HEAD_CHECK_SECONDS", "INCREMENTAL_LIMIT",
    "MAX_BACKENDS", "META_FILE", "PgIndex", "PAGE_CACHE_SIZE", "POOL_SIZE", "REBUILD_LOCK", "REBUILD_LOCK_TIMEOUT",
    "SCHEMA_VERSION", "SCORE_LIMIT", "SET_CACHE_SIZE", "WHOOSH_LOCK_TIMEOUT", "WRITER_LIMIT_MB", "WRITE_LOCK",
    "WRITE_LOCK_TIMEOUT", "Hit", "IndexStore", "Progress", "SearchBackend", "SearchPage", "SearchRequest",
    "VersionReader", "WhooshIndex", "backend", "build_schema", "document",
]

"""The PostgreSQL ticket index: ``search_tickets`` (a ticket's scope, organisation and analysed terms as a
tsvector under a GIN index), ``search_ticket_terms`` (how many tickets hold each term: the idf that picks a
lookup's words) and ``search_ticket_state`` (the watermark). The terms are ``documents.analyse``'s — written as
tsvector literals, so PostgreSQL's own dictionaries never touch them; a code is marked ``documents.CODE_MARK``.

A lookup scores, inside one query restricted to the scope (and organisation), each ticket holding any of the
lookup's terms by the sum of those terms' weights (tf × idf), half as much again for a term of its summary
(weight A). A rebuild rewrites the tables in one transaction: lookups read the old rows until it commits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from portal import locks
from portal.config import Settings
from portal.db import make_engine
from portal.search import analysis
from portal.search.index.pg_documents import MAX_TERM_CHARS, lexeme
from portal.search.index.protocol import Progress
from portal.search.similar import documents
from portal.search.similar.documents import TicketText, Wanted
from portal.search.similar.index import REBUILD_LOCK_TIMEOUT, WRITE_LOCK, Following, IndexedTicket, Match

STATE_ID = 1
SUMMARY_BONUS = 0.5


def _terms(ticket_text: TicketText, mode: str) -> tuple[list[str], str]:
    """(the distinct terms, the tsvector literal) of a ticket."""
    analysed = documents.analyse(ticket_text, mode)
    terms = {t for t in analysed.words if len(t) <= MAX_TERM_CHARS}
    terms |= {documents.CODE_MARK + c for c in analysed.codes if len(c) < MAX_TERM_CHARS}
    vector = " ".join(lexeme(t) + (":1A" if t in analysed.summary_words else "") for t in sorted(terms))
    return sorted(terms), vector


def _term(t: documents.Term) -> str:
    return t.term if t.kind == "words" else documents.CODE_MARK + t.term


class PgTickets(Following):
    def __init__(self, settings: Settings, mode: str = analysis.DEFAULT_MODE):
        Following.__init__(self)
        self.settings = settings
        self.mode = mode
        self.engine = make_engine(settings.effective_database_url, connections=4)

    def _state(self, conn: Connection) -> dict[str, Any] | None:
        row = conn.execute(text("SELECT watermark, tickets, mode, schema_version, built_at, build_seconds "
                                "FROM search_ticket_state WHERE id = :id"), {"id": STATE_ID}).mappings().first()
        if row is None or row["mode"] != self.mode or row["schema_version"] != documents.SCHEMA_VERSION:
            return None
        return dict(row)

    def _watermark(self) -> dt.datetime | None:
        with self.engine.connect() as conn:
            state = self._state(conn)
        return None if state is None else state["watermark"]

    def _version(self) -> tuple[str, str] | None:
        """The transaction that last wrote the state row: every write of the index (a catch-up's batch, a rebuild)
        updates that row in its own transaction, so its ``xmin`` moves with each, on any node."""
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT xmin::text, mode, schema_version FROM search_ticket_state WHERE id = :id"),
                               {"id": STATE_ID}).first()
        if row is None or row[1] != self.mode or row[2] != documents.SCHEMA_VERSION:
            return None
        return "pg", row[0]

    # --- writing -------------------------------------------------------------------------------------
    def _rows(self, tickets: list[IndexedTicket]) -> list[dict[str, Any]]:
        rows = []
        for ticket in tickets:
            terms, vector = _terms(ticket.text, self.mode)
            rows.append({"ticket_id": ticket.ticket_id, "organization_id": ticket.organization_id,
                         "scope": documents.scope(ticket.status, ticket.is_open, ticket.merged), "words": vector,
                         "terms": terms, "updated_at": ticket.updated_at})
        return rows

    _UPSERT = text("INSERT INTO search_tickets (ticket_id, organization_id, scope, words, terms, updated_at) "
                   "VALUES (:ticket_id, :organization_id, :scope, CAST(:words AS tsvector), :terms, :updated_at) "
                   "ON CONFLICT (ticket_id) DO UPDATE SET organization_id = excluded.organization_id, "
                   "scope = excluded.scope, words = excluded.words, terms = excluded.terms, "
                   "updated_at = excluded.updated_at")

    def _write(self, tickets: list[IndexedTicket], watermark: dt.datetime) -> None:
        rows = self._rows(tickets)
        with self.engine.begin() as conn:
            old = {r[0]: r[1] for r in conn.execute(
                text("SELECT ticket_id, terms FROM search_tickets WHERE ticket_id = ANY(:ids)"),
                {"ids": [r["ticket_id"] for r in rows]})}
            counts: Counter[str] = Counter()
            for row in rows:
                counts.update(row["terms"])
                counts.subtract(old.get(row["ticket_id"], []))
            conn.execute(self._UPSERT, rows)
            changed = [{"term": t, "n": n} for t, n in sorted(counts.items()) if n]
            if changed:
                conn.execute(text("INSERT INTO search_ticket_terms (term, docs) VALUES (:term, :n) "
                                  "ON CONFLICT (term) DO UPDATE SET docs = search_ticket_terms.docs + excluded.docs"),
                             changed)
            added = sum(1 for r in rows if r["ticket_id"] not in old)
            conn.execute(text("UPDATE search_ticket_state SET watermark = GREATEST(watermark, :mark), "
                              "tickets = tickets + :added WHERE id = :id"),
                         {"mark": watermark, "added": added, "id": STATE_ID})

    def _build(self, batches: Iterator[list[IndexedTicket]], watermark: dt.datetime, total: int,
               progress: Progress | None, started: float) -> dict[str, Any]:
        # Unlike Whoosh's new generation, the rows are rewritten in place: incremental writers wait (their counts
        # would be taken against rows the rebuild replaces), and the rebuild's closing catch-up reads what they had.
        with locks.shared(self.settings, WRITE_LOCK, timeout=REBUILD_LOCK_TIMEOUT, what="Обновление индекса заявок"), \
                self.engine.begin() as conn:
            conn.execute(text("DELETE FROM search_tickets"))
            conn.execute(text("DELETE FROM search_ticket_terms"))
            done = 0
            for batch in batches:
                conn.execute(self._UPSERT, self._rows(batch))
                done += len(batch)
                if progress:
                    progress(min(done, total), total)
            conn.execute(text("INSERT INTO search_ticket_terms (term, docs) "
                              "SELECT term, count(*) FROM search_tickets, unnest(terms) AS term GROUP BY term"))
            conn.execute(text("DELETE FROM search_ticket_state"))
            conn.execute(text("INSERT INTO search_ticket_state (id, watermark, tickets, mode, schema_version, "
                              "built_at, build_seconds) VALUES (:id, :mark, :n, :mode, :schema, :at, :seconds)"),
                         {"id": STATE_ID, "mark": watermark, "n": done, "mode": self.mode,
                          "schema": documents.SCHEMA_VERSION, "at": time.time(),
                          "seconds": round(time.monotonic() - started, 3)})
        conn.close()
        with self.engine.connect() as conn:
            conn.execute(text("ANALYZE search_tickets"))
            conn.commit()
        return self.info()

    # --- reading -------------------------------------------------------------------------------------
    def _frequencies(self, conn: Connection, analysed: documents.Analysed) -> tuple[dict[str, int], int]:
        state = self._state(conn)
        if state is None:
            return {}, 0
        asked = list(analysed.words) + [documents.CODE_MARK + c for c in analysed.codes]
        found = {r[0]: int(r[1]) for r in conn.execute(
            text("SELECT term, docs FROM search_ticket_terms WHERE term = ANY(:terms)"), {"terms": asked})}
        return found, int(state["tickets"])

    def _wanted(self, conn: Connection, ticket_text: TicketText, exclude: str | None = None) -> Wanted | None:
        analysed = documents.analyse(ticket_text, self.mode)
        found, total = self._frequencies(conn, analysed)
        if not total:
            return None

        def key(kind: str, term: str) -> str:
            return term if kind == "words" else documents.CODE_MARK + term

        def frequency(kind: str, term: str) -> int:
            return found.get(key(kind, term), 0)

        own = None
        if exclude is not None:
            held = conn.execute(text("SELECT terms FROM search_tickets WHERE ticket_id = :id"), {"id": exclude}).scalar()
            if held is not None:
                mine = set(held)

                def own(kind: str, term: str) -> bool:
                    return key(kind, term) in mine

        return documents.wanted(analysed, frequency, total, own)

    def wanted(self, text_: TicketText) -> Wanted:
        with self.engine.connect() as conn:
            return self._wanted(conn, text_) or Wanted([], [])

    def similar(self, ticket_text: TicketText, *, scope: str, organization_id: int | None = None,
                exclude: str | None = None, limit: int = 5) -> list[Match]:
        self._maybe_check()
        with self.engine.connect() as conn:
            want = self._wanted(conn, ticket_text, exclude)
            if want is None:
                if self._state(conn) is None:
                    self.catch_up_later()  # no index yet: built in the background, the page does not wait
                return []
            if want.empty:
                return []
            params: dict[str, Any] = {"scope": scope, "limit": limit, "exclude": exclude or "",
                                      "seeds": " | ".join(lexeme(_term(t)) for t in want.seeds())}
            parts, holds = [], []
            for i, t in enumerate(want.terms):
                params[f"t{i}"], params[f"a{i}"] = lexeme(_term(t)), lexeme(_term(t)) + ":A"
                params[f"w{i}"], params[f"b{i}"] = t.weight, t.weight * SUMMARY_BONUS
                holding = f"CASE WHEN words @@ CAST(:t{i} AS tsquery) THEN :w{i} ELSE 0 END"
                if t.telling:
                    holds.append(holding)
                parts.append(f"({holding} + CASE WHEN words @@ CAST(:a{i} AS tsquery) THEN :b{i} ELSE 0 END)")
            # The candidates hold one of the seed terms (the rarest: documents.Wanted.seeds); all terms score.
            where = "scope = :scope AND ticket_id <> :exclude AND words @@ CAST(:seeds AS tsquery)"
            if organization_id is not None:
                where += " AND organization_id = :org"
                params["org"] = organization_id
            rows = conn.execute(text(f"SELECT ticket_id, {' + '.join(parts)} AS score, {' + '.join(holds) or '0'} AS held "
                                     f"FROM search_tickets WHERE {where} ORDER BY score DESC, ticket_id LIMIT :limit"),
                                params).all()
        return [Match(r[0], round(float(r[1]), 4), want.likeness(float(r[2]))) for r in rows]

    def info(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            state = self._state(conn)
        if state is None:
            return {}
        return {"backend": "postgresql", "where": "search_tickets", "tickets": state["tickets"],
                "watermark": state["watermark"].isoformat(), "mode": self.mode,
                "schema": documents.SCHEMA_VERSION, "built_at": state["built_at"],
                "build_seconds": state["build_seconds"]}

    def close(self) -> None:
        self.engine.dispose()

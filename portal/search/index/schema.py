"""The Whoosh schema of the index and the document of one article (bump SCHEMA_VERSION when either changes)."""

from __future__ import annotations

from typing import Any

from whoosh import columns
from whoosh.fields import COLUMN, ID, KEYWORD, STORED, TEXT, Schema

from portal.search import analysis
from portal.search import query as sq
from portal.search.source import Article, plain_text

SCHEMA_VERSION = 9  # 7: word families beside the forms, stop words unstemmed; 8: updated a column only;
# 9: names in capitals (ECONNRESET, SIGKILL) among the codes
FACET_FIELDS = ("module", "kind", "version", "tag")
AUDIENCE_SPELL_FIELD = {"public": "spell_public", "customers": "spell_customers", "internal": "spell_internal"}


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
        # Only sorted by (the newest first), never searched: a column, not the 16 trie terms per article of a
        # NUMERIC field that were 8 % of a rebuild's postings.
        updated=COLUMN(columns.NumericColumn("q")),
        meta=STORED(),
        spell_public=TEXT(analyzer=analysis.spell_analyzer(), phrase=False),
        spell_customers=TEXT(analyzer=analysis.spell_analyzer(), phrase=False),
        spell_internal=TEXT(analyzer=analysis.spell_analyzer(), phrase=False),
    )


def document(article: Article) -> dict[str, Any]:
    body = plain_text(article.body)  # the index and its snippets hold text, never the article's markup
    tags = [t.lower() for t in article.tags]
    summary = " ".join([article.summary, " ".join(tags)]).strip()
    codes = " ".join(article.tickets + article.fixed_in + article.product_versions)
    return {
        "path": article.path,
        "slug": article.slug,
        "text": analysis.sections(article.title, summary, body),
        "codes": analysis.sections(f"{article.title} {codes}", article.summary, body),
        "body": body,
        "title_words": article.title,
        "title_terms": article.title,
        "module": article.module,
        "kind": article.kind,
        "version": ",".join(article.product_versions or [sq.ANY_VERSION]),
        "tag": ",".join(tags),
        "visibility": article.visibility,
        "updated": int(article.updated),
        "meta": {
            "path": article.path, "slug": article.slug, "section": article.section, "url": article.url,
            "title": article.title, "summary": article.summary, "module": article.module,
            "kind": article.kind, "product_versions": article.product_versions, "tags": tags,
            "fixed_in": article.fixed_in, "tickets": article.tickets, "visibility": article.visibility,
            "updated": int(article.updated),
        },
        AUDIENCE_SPELL_FIELD[article.visibility]: f"{article.title}\n{summary}\n{body}",
    }

"""The Whoosh index scores candidates from each version's postings read a block at a time
(``VersionReader.score``): the same scores as Whoosh's own matchers (``ranking.score``), to the last bit, on one
segment and on several segments with deleted documents (after a catch-up)."""

from __future__ import annotations

from whoosh import index as windex

from portal.search import query as sq
from portal.search.index import WhooshIndex, ranking
from portal.search.index.reader import segment_weights
from portal.search.index.schema import document
from tests.search.conftest import CUSTOMER, commit
from tests.search.corpus import ARTICLES, RELEVANCE, article_text

# Words, phrases, codes, synonyms (an And of a phrase and its words among the parts) and a fuzzy query's terms.
TEXTS = [text for text, _, _ in RELEVANCE] + ['"пакет исправлений" агент', "HTTP 502 таймаут", "сниппет head"]


def compare(index: WhooshIndex) -> int:
    """Score every query's matches both ways; the number of queries compared."""
    compared = 0
    with index.searcher() as (searcher, reader):
        allowed = reader.docs(searcher, sq.restriction(CUSTOMER, {}))
        synonyms = index.synonyms(reader.commit)
        for text in TEXTS:
            parsed = sq.parse(text)
            for fuzzy in (False, True):
                parts = sq.nodes(parsed, index.mode, synonyms, fuzzy=fuzzy)
                q = ranking.wq.Or(parts)
                docs = reader.docs(searcher, q) & allowed
                if not docs:
                    continue
                expected = ranking.score(searcher, q, docs, len(docs))
                assert reader.score(searcher, q, docs, len(docs)) == expected, text
                assert reader.score(searcher, q, docs, 3) == expected[:3], text
                compared += 1
    return compared


def test_scores_from_block_read_postings_equal_whooshs_matchers(settings, kb, content_repo):
    index = WhooshIndex(settings, cache_pages=False)
    index.rebuild()
    assert compare(index) > 40
    # An edited article written as a catch-up writes it, without the merge a small index gets: a second segment,
    # and the article's old document deleted in the first.
    article = next(a for a in ARTICLES if a["path"] == "kb/rum/agent-not-starting.md")
    edit = {**article, "body": article["body"] + "\n\nАгент снова запускается."}
    head = commit(content_repo, {article["path"]: article_text(edit)})
    ix = windex.open_dir(str(index.store.current()))
    writer = ix.writer()
    for path, edited in index.source.articles(head, [article["path"]]):
        writer.delete_by_term("path", path)
        writer.add_document(**document(edited))
    writer.commit(merge=False)
    ix.close()
    with index.searcher() as (searcher, reader):
        assert len(searcher.leaf_searchers()) > 1 and searcher.reader().has_deletions()
        for fieldname, text in [("text", "агент"), ("title_terms", "агент"), ("visibility", "public")]:
            whooshs = set(searcher.reader().postings(fieldname, text).all_ids())
            assert reader.docs(searcher, ranking.wq.Term(fieldname, text)) == whooshs
            weights: dict[int, float] = {}
            for sub, offset in searcher.leaf_searchers():
                if (fieldname, text) in sub.reader():
                    weights.update(segment_weights(sub.reader().postings(fieldname, text), offset))
            assert whooshs <= set(weights)  # the deleted documents' postings too; never asked for
    assert compare(index) > 40
    index.close()

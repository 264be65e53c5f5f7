"""The Whoosh index scores candidates from each version's postings read a block at a time
(``VersionReader.score``): the same scores as Whoosh's own matchers (``ranking.score``), to the last bit, on one
segment and on several segments with deleted documents (after a catch-up)."""

from __future__ import annotations

from whoosh import index as windex

from portal.search import query as sq
from portal.search.index import WhooshIndex, ranking
from portal.search.index.reader import segment_lengths, segment_weights
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
            for sub, offset in searcher.leaf_searchers():
                if (fieldname, text) in sub.reader():
                    walked, matcher = {}, sub.reader().postings(fieldname, text)
                    while matcher.is_active():
                        walked[matcher.id() + offset] = matcher.weight()
                        matcher.next()
                    assert walked and {d: weights[d] for d in walked} == walked  # Whoosh's walk skips the deleted
        for fieldname in ("text", "title_terms", "codes", "visibility"):
            for sub, offset in searcher.leaf_searchers():
                ixreader = sub.reader()
                assert segment_lengths(ixreader, fieldname) == [
                    ixreader.doc_field_length(doc, fieldname, 1) for doc in range(ixreader.doc_count_all())]
            assert reader.field_lengths(searcher, fieldname) == {
                doc: searcher.reader().doc_field_length(doc, fieldname, 1) for doc in searcher.reader().all_doc_ids()}
    assert compare(index) > 40
    index.close()


def test_a_blocks_ids_and_weights_are_read_without_its_positions_as_whoosh_pickles_them():
    """Whoosh pickles a block as (ids, weights, values) with protocol 2; the positions (bytes) are left unread,
    inflated or not, wherever in the stream they start; a block of another shape is unpickled whole."""
    import pickle
    import zlib

    from portal.search.index.reader import _ids_and_weights

    for count in (3, 128, 3000):  # 3000 ids: the values start past the first steps of inflating
        ids = tuple(range(0, count * 7, 7))
        blocks = [
            (ids, tuple(float(i % 5 + 1) for i in range(count)), tuple(bytes([i % 256, 7]) for i in range(count))),
            (ids, None, tuple(b"\x00" for _ in range(count))),  # every weight 1
            (ids, 2.0, tuple(b"(c_codecs\nencode\n" for _ in range(count))),  # positions spelling the marker
            (ids, tuple(1.5 for _ in range(count)), None),  # no values: unpickled whole
        ]
        for block in blocks:
            data = pickle.dumps(block, 2)
            for compressed, stored in ((False, data), (True, zlib.compress(data))):
                assert _ids_and_weights(stored, compressed, count) == block[:2], (count, block[1], compressed)

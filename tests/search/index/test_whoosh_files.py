"""Whoosh's segment files read in place (portal/search/index/whoosh_files.py): the cursor reads what BytesIO
read, and an index opened with it answers as one opened with Whoosh's copies."""

import io
import pickle
from array import array

import pytest
from whoosh import fields, index
from whoosh.filedb import structfile
from whoosh.qparser import QueryParser

from portal.search.index.whoosh_files import WHOOSH_BUFFER_FILE_INIT, ViewFile, _buffer_file_init


def test_the_cursor_reads_like_bytesio():
    payload = b"first line\nsecond\n" + pickle.dumps({"k": [1, 2]}) + bytes(range(256)) * 40 + b"\nlast"
    mine, theirs = ViewFile(memoryview(payload)), io.BytesIO(payload)
    assert mine.readline() == theirs.readline() == b"first line\n"
    assert mine.readline(3) == theirs.readline(3) == b"sec"
    assert mine.readline() == theirs.readline()
    assert pickle.load(mine) == pickle.load(theirs) == {"k": [1, 2]}
    a, b = array("B"), array("B")
    a.fromfile(mine, 300)
    b.fromfile(theirs, 300)
    assert a == b
    for offset, whence in [(5, io.SEEK_SET), (7, io.SEEK_CUR), (-4, io.SEEK_END), (len(payload) + 10, io.SEEK_SET)]:
        assert mine.seek(offset, whence) == theirs.seek(offset, whence)
        assert mine.tell() == theirs.tell()
        assert mine.read(6) == theirs.read(6)
    mine.seek(len(payload) - 5000)
    theirs.seek(len(payload) - 5000)
    assert mine.readline() == theirs.readline()  # a line longer than one page of the search
    assert mine.read() == theirs.read() and mine.read(3) == theirs.read(3) == b""
    with pytest.raises(ValueError):
        mine.seek(-1)
    mine.close()
    assert mine.closed


def test_an_index_read_in_place_answers_as_with_copies(tmp_path, monkeypatch):
    schema = fields.Schema(id=fields.ID(stored=True), body=fields.TEXT(stored=True))
    ix = index.create_in(str(tmp_path), schema)
    for batch in range(3):  # several segments, one of them with deletions
        with ix.writer() as writer:
            for n in range(200):
                writer.add_document(id=f"{batch}-{n}", body=f"word{n % 17} common text number {n} batch{batch}")
    with ix.writer() as writer:
        writer.delete_by_term("id", "1-5")

    def answers():
        opened = index.open_dir(str(tmp_path))
        with opened.searcher() as searcher:
            parser = QueryParser("body", schema)
            out = [[(hit["id"], round(hit.score, 9)) for hit in searcher.search(parser.parse(q), limit=50)]
                   for q in ("common", "word3 OR batch2", '"text number"', "word5 AND batch1")]
            kinds = {type(sub.reader()._terms._dbfile.file) for sub, _ in searcher.leaf_searchers()}
        opened.close()
        return out, kinds

    monkeypatch.setattr(structfile.BufferFile, "__init__", WHOOSH_BUFFER_FILE_INIT)
    copied, copied_kinds = answers()
    monkeypatch.setattr(structfile.BufferFile, "__init__", _buffer_file_init)
    in_place, in_place_kinds = answers()
    assert in_place == copied and all(copied)
    assert copied_kinds == {io.BytesIO} and in_place_kinds == {ViewFile}  # the mapping was used both times

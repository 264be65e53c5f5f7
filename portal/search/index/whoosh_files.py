"""Whoosh's files of a memory-mapped segment read in place instead of copied whole.

Whoosh stores a segment as one compound file, maps it into memory and hands each of its parts (postings,
term index, stored fields, lengths) to the readers as a ``BufferFile`` — whose constructor wraps the part's
memory view in ``io.BytesIO``, which *copies* it. Every searcher opened copied the whole segment: at 10,000
real-length articles 177–426 ms per searcher (docs/search.md), and a copy of the index per pooled searcher in
memory. The copy buys nothing: Whoosh's hot reads (``get``, ``get_array``, the ``get_*`` numbers) already slice
the memory view directly, and the sequential ones (``read``, ``seek``, ``tell``, pickles) work as well on a
read-only cursor over the same view, copying only the bytes read.

``install()`` (idempotent) replaces ``BufferFile.__init__`` so the file it builds reads through ``ViewFile``;
every Whoosh index of the portal (the knowledge base's, the tickets') is opened after it.
"""

from __future__ import annotations

import io

from whoosh.filedb import structfile

WHOOSH_BUFFER_FILE_INIT = structfile.BufferFile.__init__  # Whoosh's own (copies), for comparison in tests


class ViewFile(io.RawIOBase):
    """A read-only file over a memory view (or bytes): the reads Whoosh's ``StructFile`` makes, without a copy
    of the whole."""

    def __init__(self, buf) -> None:
        super().__init__()
        self._view = memoryview(buf).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = len(self._view) + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = len(self._view) if size is None or size < 0 else min(start + size, len(self._view))
        if end <= start:
            return b""
        self._pos = end
        return bytes(self._view[start:end])

    def readinto(self, buffer) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[:len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        start = self._pos
        limit = len(self._view) if size is None or size < 0 else min(start + size, len(self._view))
        end = start
        while end < limit:  # look for the newline a page at a time: a line is short, the file may not be
            step = min(end + 4096, limit)
            found = bytes(self._view[end:step]).find(b"\n")
            if found >= 0:
                end += found + 1
                break
            end = step
        return self.read(end - start)

    def close(self) -> None:
        # The view belongs to the segment's mapping, which its storage closes: this cursor lets go of it.
        if not self.closed:
            self._view.release()
        super().close()


def _buffer_file_init(self, buf, name=None, onclose=None) -> None:
    self._buf = buf
    self._name = name
    self.file = ViewFile(buf)
    self.onclose = onclose
    self.is_real = False
    self.is_closed = False


def install() -> None:
    structfile.BufferFile.__init__ = _buffer_file_init

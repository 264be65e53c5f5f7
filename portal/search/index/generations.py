"""The directory of index generations: ``CURRENT`` names the live one, swapped atomically.

A full rebuild writes a new generation beside the live one and publishes it by replacing ``CURRENT``;
``portal.json`` in each generation records the commit it reflects, its schema and analyzer mode. Both Whoosh
indexes (articles, tickets) write through ``writing`` and build through ``IndexStore.building`` and ``swap``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh import index as windex

META_FILE = "portal.json"
CURRENT_FILE = "CURRENT"
# Whoosh's own lock is only ever contended by a merge of the same process (every writer holds our write lock
# first), so a short wait beats its default of failing at once.
WHOOSH_LOCK_TIMEOUT = 10.0


@contextlib.contextmanager
def writing(index: Path | Any, *, limitmb: int = 128, optimize: bool = False,
            timeout: float = WHOOSH_LOCK_TIMEOUT) -> Iterator[Any]:
    """A Whoosh writer of ``index`` — an open index, or a generation's directory (opened and closed around the
    block) — committed when the block ends and cancelled when it raises, so no half-written segment is left.
    ``limitmb``: postings kept in memory before a sorted run is spilled to disk (see whoosh_backend)."""
    ix = windex.open_dir(str(index)) if isinstance(index, Path) else index
    try:
        writer = ix.writer(limitmb=limitmb, timeout=timeout)
        try:
            yield writer
        except BaseException:
            writer.cancel()
            raise
        writer.commit(optimize=optimize)
    finally:
        if ix is not index:
            ix.close()


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

    @contextlib.contextmanager
    def building(self) -> Iterator[Path]:
        """A new generation to build in; removed when the block raises (a rebuild cut off leaves nothing)."""
        gen = self.new_generation()
        try:
            yield gen
        except BaseException:
            shutil.rmtree(gen, ignore_errors=True)
            raise

    def swap(self, gen: Path) -> None:
        """Make ``gen`` the live generation; the one before stays for readers mid-switch, older ones go.
        The caller holds the index's write lock."""
        previous = self.current()
        self.publish(gen)
        self.prune({gen} if previous is None else {gen, previous})

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

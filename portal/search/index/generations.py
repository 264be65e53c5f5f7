"""The directory of index generations: ``CURRENT`` names the live one, swapped atomically.

A full rebuild writes a new generation beside the live one and publishes it by replacing ``CURRENT``;
``portal.json`` in each generation records the commit it reflects, its schema and analyzer mode.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

META_FILE = "portal.json"
CURRENT_FILE = "CURRENT"


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

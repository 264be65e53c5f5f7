"""What a search backend offers the rest of the portal: requests, hits, pages and the protocol itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Progress = Callable[[int, int], None]


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
    # (article files read, of) when the index is being rebuilt for a new schema and the old one cannot answer
    rebuilding: tuple[int, int] | None = None


class SearchBackend(Protocol):
    def search(self, request: SearchRequest) -> SearchPage: ...
    def suggest(self, text: str, audiences: tuple[str, ...], limit: int) -> list[Hit]: ...
    def similar(self, slug: str, audiences: tuple[str, ...], limit: int) -> list[Hit]: ...
    def catch_up(self, *, wait: bool) -> str | None: ...
    def rebuild(self, *, progress: Progress | None = None, force: bool = True) -> dict[str, Any]: ...
    def info(self) -> dict[str, Any]:
        """The live index's record ({} when there is none): ``backend``, ``where`` it lives (what a person reads),
        ``commit``, ``mode``, ``articles``, ``files``, ``bytes``, ``build_seconds``…; ``rebuild`` returns the
        same record of the generation it built."""
        ...

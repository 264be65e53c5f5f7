"""What other domains do when articles change, without the knowledge base importing them.

The wiring (``portal.wiring``) adds search's index updater here; the knowledge base calls
``articles_changed`` after every commit that touches articles (publish, archive, restore, fixed_in updates).
"""

from __future__ import annotations

from typing import Protocol

from portal.registry import Registry


class ArticlesChanged(Protocol):
    """Told after a commit that changed these articles (the search index updates itself)."""

    def __call__(self, *, settings, commit: str, slugs: list[str]) -> None: ...


ARTICLES_CHANGED: Registry[ArticlesChanged] = Registry("knowledge.articles_changed")


def articles_changed(*, settings, commit: str, slugs: list[str]) -> None:
    for hook in ARTICLES_CHANGED:
        hook(settings=settings, commit=commit, slugs=slugs)

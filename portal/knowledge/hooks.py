"""What other domains do when articles change, without the knowledge base importing them.

Search registers its index updater here; the knowledge base calls ``articles_changed`` after every
commit that touches articles (publish, archive, restore, fixed_in updates).
"""

from __future__ import annotations

from collections.abc import Callable

# fn(settings=..., commit=<sha>, slugs=[...]) -> None
ARTICLES_CHANGED: list[Callable[..., None]] = []


def articles_changed(*, settings, commit: str, slugs: list[str]) -> None:
    for hook in ARTICLES_CHANGED:
        hook(settings=settings, commit=commit, slugs=slugs)

"""Typed registries: the application's extension points, filled only by ``portal.wiring``.

An extension point is a ``Registry`` declared where it is used (``tickets.workflow.CLOSE_GUARDS``,
``jobs.REGISTRY`` …) with the type of what it holds. Importing a module never adds anything to one: the
wiring does, once, in every process (web, command line, worker, tests), so what a process does no longer
depends on what it happened to import first. ``REGISTRIES`` lists every registry, for the test that checks
they are empty until the wiring runs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

REGISTRIES: list[Registry] = []


def _identity(item):
    return item


class Registry(Generic[T]):
    """An ordered set of hooks of one kind; adding one already there (by ``key``) changes nothing."""

    def __init__(self, name: str, *, key: Callable[[T], Hashable] = _identity):
        self.name = name
        self._key = key
        self._items: dict[Hashable, T] = {}
        REGISTRIES.append(self)

    def add(self, *items: T) -> None:
        for item in items:
            self._items[self._key(item)] = item

    def remove(self, item: T) -> None:
        self._items.pop(self._key(item), None)

    def get(self, key: Hashable) -> T | None:
        """The item added under this key (for keyed registries: a job's or an effect's name)."""
        return self._items.get(key)

    def clear(self) -> None:
        self._items.clear()

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))  # a copy: a hook may be added while others run

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        try:
            return self._key(item) in self._items  # type: ignore[arg-type]
        except (AttributeError, TypeError):
            return False

    def __repr__(self) -> str:
        return f"<Registry {self.name}: {len(self._items)}>"

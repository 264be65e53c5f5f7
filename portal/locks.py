"""Locks that hold across processes (several portal workers, the CLI, background jobs)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from portal.errors import Conflict


@contextlib.contextmanager
def held(lock_dir: Path, name: str, *, timeout: float, what: str) -> Iterator[None]:
    """Hold the named lock, waiting up to ``timeout`` seconds; on time-out answer 409 saying what was busy."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f"{name}.lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise Conflict(f"{what} занято другой операцией более {timeout:g} с. Повторите попытку через минуту.") from None
    try:
        yield
    finally:
        lock.release()

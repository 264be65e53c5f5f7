"""A test hook for crash tests: ``PORTAL_FAULT_POINT=<name>`` kills the process at that named point.

Inert unless the variable is set, and not a setting: only the crash tests (``tests/test_crash_consistency.py``)
arm it, to make the process die like ``kill -9`` (``os._exit(137)``: no cleanup, no ``finally``, no flush)
at a chosen moment of publishing or uploading. Several points may be given, comma-separated; with
``PORTAL_FAULT_AFTER=N`` the process dies on the N-th time a point is reached (default the first).
"""

from __future__ import annotations

import os

_hits: dict[str, int] = {}


def point(name: str) -> None:
    """Die here when the crash tests armed this point."""
    armed = os.environ.get("PORTAL_FAULT_POINT")
    if not armed or name not in armed.split(","):
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(os.environ.get("PORTAL_FAULT_AFTER") or 1):
        os._exit(137)

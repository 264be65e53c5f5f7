"""The start page («Главная»): each domain's section, in the order ``portal.wiring`` adds them.

It sits above the domains and imports none of them: tickets, releases and notifications offer a section
(``(template, context)`` or None for this reader), the wiring adds it to ``SECTIONS``.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import Request

from portal.registry import Registry


class DashboardSection(Protocol):
    """A domain's part of the start page for this reader: (template, context), or None when it has nothing."""

    def __call__(self, request: Request, session, user) -> tuple[str, dict] | None: ...


SECTIONS: Registry[DashboardSection] = Registry("dashboard.sections")

"""This domain in other domains' hook lists: the tickets' close guard and page section, search's package titles, the
dashboard's section.

``register()`` is idempotent; the API module, the CLI and the job module call it, so the server, the
command line and the worker all see the same hooks.
"""

from __future__ import annotations


def register() -> None:
    from portal.accounts import pages as account_pages
    from portal.releases import deliveries, pages, service
    from portal.search import service as search
    from portal.tickets import pages as ticket_pages
    from portal.tickets import workflow

    _add(workflow.CLOSE_GUARDS, deliveries.close_blocker)
    _add(ticket_pages.TICKET_PAGE_SECTIONS, pages.ticket_section)
    _add(search.PACKAGE_LOOKUPS, service.published_titles)
    _add(account_pages.DASHBOARD_SECTIONS, pages.dashboard_section)


def _add(hooks: list, fn) -> None:
    if fn not in hooks:
        hooks.append(fn)

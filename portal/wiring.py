"""The composition of the application: every cross-domain hook, added in one place.

Domains declare their extension points as typed registries (``portal.registry.Registry``) where the point
lives, and offer plain functions; none of them adds anything to another domain's registry, and importing a
module registers nothing. ``wire()`` connects them. ``create_app`` (every web process), the ``portal``
command line (its main callback, so ``portal worker`` too) and the tests call it; it is idempotent.

What is connected here, and why it matters:

* ``tickets.workflow.CLOSE_GUARDS`` ← releases: a ticket whose published fix is not delivered and confirmed
  does not close — in every process, not only in those that happened to import releases first;
* ``tickets.history.EVENT_LISTENERS`` ← notify: every ticket event writes its messages to the outbox;
* ``releases.events`` ← notify: a published package and a recorded hand-over reach customers by the same
  route (an event of the domain, a listener of notify), releases never importing notify; so do
  ``releases.notices``' notices of a withdrawal or a replacement and second line's reminders of unacknowledged ones;
* ``knowledge.hooks.ARTICLES_CHANGED`` ← search: the index follows every article commit;
* ``tickets.history.EVENT_LISTENERS`` ← search's ticket index (it catches up after the event's transaction),
  ``tickets.pages.TICKET_PAGE_SECTIONS`` ← its similar solved tickets (staff who work tickets), and
  ``search.similar.service.TICKET_PACKAGES`` ← releases: a similar solved ticket names the packages with its fix;
* ``knowledge.fixed_in.READABLE_PACKAGES`` ← releases: an article on /kb/ and a search hit say «Исправлено в
  пакете …» only to the readers the package's entitlement lets see it (one lookup for both);
* ``intents.EFFECTS`` ← releases, knowledge: a git-and-database operation cut off by a crash is finished by
  whichever process reconciles it, and ``intents.AFTER_REINDEX`` ← knowledge: the articles it changed are
  told to the knowledge hooks (and so to search) without the core importing knowledge;
* ``tickets.pages.TICKET_PAGE_SECTIONS`` ← knowledge (articles), releases (the fix's delivery), tickets' own merge
  part (what was merged where; the form for second line);
* ``tickets.pages.NEW_TICKET_CITATIONS`` ← knowledge: «Не помогло? Создать заявку» on an article opens the
  new-ticket form with that article cited (tickets never importing knowledge);
* ``dashboard.SECTIONS`` ← tickets, notify, releases, knowledge (what awaits the writer), the health report
  (the administrator's: each component, failed jobs), and
  ``knowledge.pages.SEARCH_GAPS`` ← search: the writer's home names the searches that found nothing;
* ``jobs.REGISTRY`` ← the jobs of accounts, notify, knowledge, releases and the housekeeping;
* ``validation.FIELD_LABELS`` ← tickets, releases: 422 answers name fields in Russian;
* ``storage.REFERENCES`` ← releases (package files), tickets (attachments), notify (intake messages): the
  columns that refer to blobs, so the sweep never removes a blob a row needs and the audit report names the
  rows whose blob is missing — the core never importing the domains.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()


def wire() -> None:
    """Add every domain's hooks to the registries of the others (idempotent: a second call changes nothing)."""
    from portal import dashboard, health, housekeeping, intents, jobs, storage, validation
    from portal.accounts import jobs as accounts_jobs
    from portal.knowledge import fixed_in as knowledge_fixed_in
    from portal.knowledge import hooks as knowledge_hooks
    from portal.knowledge import jobs as knowledge_jobs
    from portal.knowledge import pages as knowledge_pages
    from portal.knowledge import service as knowledge
    from portal.knowledge import tickets_link
    from portal.notify import jobs as notify_jobs
    from portal.notify import models as notify_models
    from portal.notify import package_notices as notify_package_notices
    from portal.notify import pages as notify_pages
    from portal.notify import service as notify
    from portal.releases import deliveries, events
    from portal.releases import fixed_in as releases_fixed_in
    from portal.releases import jobs as releases_jobs
    from portal.releases import models as releases_models
    from portal.releases import notice_pages as releases_notice_pages
    from portal.releases import notices as releases_notices
    from portal.releases import pages as releases_pages
    from portal.releases import service as releases
    from portal.search import service as search
    from portal.search.similar import pages as similar_pages
    from portal.search.similar import service as similar_tickets
    from portal.tickets import history as ticket_history
    from portal.tickets import labels as ticket_labels
    from portal.tickets import merge_pages as ticket_merge_pages
    from portal.tickets import models as ticket_models
    from portal.tickets import pages as ticket_pages
    from portal.tickets import workflow

    with _lock:
        workflow.CLOSE_GUARDS.add(deliveries.close_blocker)
        ticket_history.EVENT_LISTENERS.add(notify.on_ticket_event)
        ticket_history.EVENT_LISTENERS.add(similar_tickets.on_ticket_event)
        similar_tickets.TICKET_PACKAGES.add(releases.packages_for_ticket)
        ticket_pages.TICKET_PAGE_SECTIONS.add(similar_pages.ticket_page_section)  # second line's memory
        events.PACKAGE_PUBLISHED.add(notify.on_package_published)
        events.DELIVERY_HANDED_OVER.add(notify.on_delivery_handed_over)
        releases_notices.NOTICE_SENT.add(notify_package_notices.on_notice_sent)
        releases_notices.NOTICE_REMINDER.add(notify_package_notices.on_notice_reminder)
        knowledge_hooks.ARTICLES_CHANGED.add(search.on_articles_changed)
        intents.AFTER_REINDEX.add(knowledge_hooks.articles_changed)
        knowledge_fixed_in.READABLE_PACKAGES.add(releases_fixed_in.readable_published)
        intents.EFFECTS.add(tickets_link.STAGE_EFFECT, knowledge.BUILD_EFFECT, *releases.EFFECTS,
                            *releases_notices.EFFECTS)

        ticket_pages.TICKET_PAGE_SECTIONS.add(knowledge_pages.ticket_articles_section, releases_pages.ticket_section)
        ticket_pages.TICKET_PAGE_SECTIONS.add(ticket_merge_pages.ticket_section)
        ticket_pages.NEW_TICKET_CITATIONS.add(knowledge_pages.ticket_citation)
        dashboard.SECTIONS.add(health.dashboard_section)  # the administrator's first: is everything working
        # A withdrawn package the customer installed comes before everything else on their home page.
        dashboard.SECTIONS.add(releases_notice_pages.dashboard_section)
        dashboard.SECTIONS.add(ticket_pages.dashboard_section, notify_pages.dashboard_section,
                               releases_pages.dashboard_section)
        dashboard.SECTIONS.add(knowledge_pages.writer_dashboard_section)
        knowledge_pages.SEARCH_GAPS.add(search.zero_hit_queries)

        for declared in (accounts_jobs.JOBS, notify_jobs.JOBS, knowledge_jobs.JOBS, releases_jobs.JOBS,
                         housekeeping.JOBS):
            jobs.REGISTRY.add(*declared)

        validation.register_field_labels(ticket_labels.FIELD_LABELS)
        validation.register_field_labels(releases.FIELD_LABELS)
        storage.REFERENCES.add(releases_models.BLOB_REFERENCE, ticket_models.BLOB_REFERENCE,
                               notify_models.BLOB_REFERENCE)

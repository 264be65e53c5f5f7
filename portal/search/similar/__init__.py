"""Second line's memory: an index of tickets (staff audience) and what it answers.

* similar solved tickets beside a ticket (``service.similar_solved``): resolved or closed tickets most like it,
  with their cause, solution and workaround, for the staff ticket page and the API;
* open tickets of one organisation like a text (``service.similar_open``): the duplicate warning of the
  new-ticket form, and e-mail intake's suggestion for a held message.

The index is a cache of the ``tickets`` table, as the article index is of git. Its words come from
``portal.search.analysis`` (the same tokenizers, morphology and word families). It follows the table through
``updated_at`` (every ticket event sets it): after each transaction that recorded a ticket event, a thread of
the process catches the index up from its watermark, so no request waits for indexing; ``portal search rebuild
--tickets`` builds it anew. Two backends, chosen by ``PORTAL_SEARCH_BACKEND``:

    documents.py       what a ticket becomes in the index, and the weighted words of a lookup
    index.py           the protocol of a ticket index, the catch-up from ``updated_at``, backend()
    whoosh_tickets.py  a Whoosh index in ``$PORTAL_HOME/index-tickets`` (generations swapped as the article index)
    pg_tickets.py      tables ``search_tickets`` and ``search_ticket_terms`` of the shared PostgreSQL database
    service.py         what the rest of the portal calls (permissions, rows loaded, the ticket event listener)
    pages.py           the staff ticket page's panel, the API, the new-ticket form's duplicate lookup
"""

"""Fix packages and their delivery: immutable uploads tied to tickets, release notes, entitled downloads,
deliveries confirmed by second line.

This domain reaches the others only through their extension points, filled by ``portal.wiring``: the tickets'
close guard and page section (``deliveries.close_blocker``, ``pages.ticket_section``), the packages a reader may know of
on /kb/ and in search (``fixed_in.readable_published``), the dashboard's section, its jobs and durable-intent effects; publishing tells
``events.PACKAGE_PUBLISHED`` listeners (notifications).
"""

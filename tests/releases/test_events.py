"""portal/releases/events.py: publishing and hand-overs reach other domains as events, not as calls."""

from __future__ import annotations

from portal.notify import service as notify
from portal.releases import deliveries, events
from tests.releases.conftest import create, load


def test_publishing_tells_the_listeners_the_wiring_added_in_the_publishing_transaction(db, settings, world):
    assert notify.on_package_published in events.PACKAGE_PUBLISHED  # added by portal.wiring, not by an import
    seen = []

    def listener(event: events.PackagePublished) -> None:
        seen.append((event.package.id, sorted(o.slug for o in event.organizations), event.session.in_transaction()))

    events.PACKAGE_PUBLISHED.add(listener)
    try:
        create(db, settings, world.support, package_id="pkg-e", tickets=[world.t_romashka], orgs=["vector"],
               publish=True)
    finally:
        events.PACKAGE_PUBLISHED.remove(listener)
    assert seen == [("pkg-e", ["romashka", "vector"], True)]


def test_a_hand_over_is_an_event_that_notify_listens_to(db, settings, world):
    assert notify.on_delivery_handed_over in events.DELIVERY_HANDED_OVER
    package_id = create(db, settings, world.support, package_id="pkg-h", orgs=["vector"], publish=True)
    seen = []
    events.DELIVERY_HANDED_OVER.add(lambda event: seen.append((event.package.id, event.organization.slug,
                                                               event.channel)))
    try:
        with db.session_scope() as s:
            deliveries.record_handover(session=s, actor=load(s, world.support), package_id=package_id,
                                       organization="vector", channel="email")
    finally:
        for listener in list(events.DELIVERY_HANDED_OVER):
            if listener is not notify.on_delivery_handed_over:
                events.DELIVERY_HANDED_OVER.remove(listener)
    assert seen == [("pkg-h", "vector", "email")]

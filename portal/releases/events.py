"""What the releases domain tells others, as tickets tell theirs through ``EVENT_LISTENERS``.

Releases publishes an event; who listens (notifications) is decided by ``portal.wiring``, so this domain never
imports the ones that react to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from portal.config import Settings
from portal.registry import Registry


@dataclass(frozen=True)
class PackagePublished:
    """A package became available to these organisations (told in the transaction that published it)."""

    session: Session
    settings: Settings
    package: Any  # releases.models.Package
    organizations: tuple[Any, ...]  # accounts.models.Organization, the entitled ones
    at: dt.datetime


class PackagePublishedListener(Protocol):
    def __call__(self, event: PackagePublished) -> None: ...


PACKAGE_PUBLISHED: Registry[PackagePublishedListener] = Registry("releases.package_published")


def package_published(event: PackagePublished) -> None:
    for listener in PACKAGE_PUBLISHED:
        listener(event)


@dataclass(frozen=True)
class DeliveryHandedOver:
    """Second line recorded a hand-over by another channel; the organisation is to acknowledge it."""

    session: Session
    package: Any  # releases.models.Package
    organization: Any  # accounts.models.Organization
    channel: str


class DeliveryHandedOverListener(Protocol):
    def __call__(self, event: DeliveryHandedOver) -> None: ...


DELIVERY_HANDED_OVER: Registry[DeliveryHandedOverListener] = Registry("releases.delivery_handed_over")


def delivery_handed_over(event: DeliveryHandedOver) -> None:
    for listener in DELIVERY_HANDED_OVER:
        listener(event)

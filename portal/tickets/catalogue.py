"""The product catalogue: modules and versions a ticket names."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, policy
from portal.errors import Conflict, Invalid, NotFound
from portal.i18n import message
from portal.policy import Actor
from portal.tickets.models import (
    ProductModule,
    ProductVersion,
)

VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,39}$")


def add_module(*, session: Session, actor: Actor, name: str, description: str = "") -> ProductModule:
    """Add a product module to the catalogue."""
    policy.require(actor, "catalogue.manage")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid.fields({"name": message("errors_tickets.module_name_missing")})
    if session.scalar(select(ProductModule).where(ProductModule.name == name)):
        raise Conflict(message("errors_tickets.module_exists", name=name))
    module = ProductModule(name=name, description=(description or "").strip())
    session.add(module)
    session.flush()
    audit.record(session, actor=actor, action="catalogue.module_add", object_type="product_module",
                 object_id=name)
    return module


def list_modules(*, session: Session) -> list[ProductModule]:
    return list(session.scalars(select(ProductModule).order_by(ProductModule.name)))


def _version_key(version: ProductVersion):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-]", version.name)]


def add_version(*, session: Session, actor: Actor, name: str, supported: bool = True) -> ProductVersion:
    """Add a product version to the catalogue."""
    policy.require(actor, "catalogue.manage")
    name = (name or "").strip()
    if not VERSION_RE.match(name):
        raise Invalid.fields({"name": message("errors_tickets.version_format")})
    if session.scalar(select(ProductVersion).where(ProductVersion.name == name)):
        raise Conflict(message("errors_tickets.version_exists", name=name))
    version = ProductVersion(name=name, supported=supported)
    session.add(version)
    session.flush()
    audit.record(session, actor=actor, action="catalogue.version_add", object_type="product_version",
                 object_id=name, details={"supported": supported})
    return version


def list_versions(*, session: Session) -> list[ProductVersion]:
    return sorted(session.scalars(select(ProductVersion)), key=_version_key)


def set_version_supported(*, session: Session, actor: Actor, name: str, supported: bool) -> ProductVersion:
    """Mark a product version supported or no longer supported."""
    policy.require(actor, "catalogue.manage")
    version = session.scalar(select(ProductVersion).where(ProductVersion.name == name))
    if version is None:
        raise NotFound(message("errors_tickets.version_not_in_catalogue", name=name))
    if version.supported != supported:
        version.supported = supported
        session.flush()
        audit.record(session, actor=actor, action="catalogue.version_support", object_type="product_version",
                     object_id=name, details={"supported": supported})
    return version

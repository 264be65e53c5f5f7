"""Request bodies and answer shapes of the packages and deliveries API."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from portal import policy
from portal.releases.models import Delivery, Package


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WithdrawBody(Strict):
    reason: str = Field(min_length=1, max_length=5000, description="Shown to the organisations entitled to it")


class NotesBody(Strict):
    notes: str = Field("", max_length=100_000, description="Markdown; empty renders them again from the template")


class HandoverBody(Strict):
    package_id: str = Field(max_length=80)
    organization: str = Field(max_length=64, description="Organisation slug")
    channel: str = Field(description="email, media, remote (installation by support) or other")
    note: str = Field("", max_length=5000)


class NoteBody(Strict):
    note: str = Field("", max_length=5000)


def file_url(package_id: str, name: str) -> str:
    return f"/api/v1/packages/{package_id}/files/{quote(name, safe='')}"


def file_out(package: Package, f) -> dict:
    return {"name": f.name, "size": f.size, "sha256": f.sha256, "signature": f.signature,
            "url": file_url(package.id, f.name), "corrupt": f.corrupt_at is not None}


def package_out(package: Package, *, user, ticket_ids: list[str], delivery: Delivery | None = None,
                full: bool = True) -> dict:
    """A package as its reader may see it: customers get no list of other organisations."""
    out = {
        "id": package.id, "title": package.title, "version": package.version, "status": package.status,
        "product_versions": package.product_version_list, "modules": package.module_list,
        "ticket_ids": ticket_ids,
        "files": [file_out(package, f) for f in package.files],
        "created_at": package.created_at, "published_at": package.published_at,
        "withdrawn_at": package.withdrawn_at, "withdraw_reason": package.withdraw_reason or None,
    }
    if full:
        out["notes"] = package.notes
    if policy.allows(user, "package.manage"):
        out["all_customers"] = package.all_customers
        out["organizations"] = sorted(o.organization.slug for o in package.organizations)
        out["manifest_commit"] = package.manifest_commit or None
    if delivery is not None:
        out["delivery"] = delivery_out(delivery)
    return out


def delivery_out(d: Delivery) -> dict:
    return {
        "id": d.id, "package_id": d.package_id, "package_status": d.package.status,
        "organization": d.organization.slug, "organization_name": d.organization.name, "status": d.status,
        "overdue": d.overdue, "created_at": d.created_at, "downloaded_at": d.downloaded_at,
        "downloaded_by": d.downloaded_by or None, "delivered_at": d.delivered_at, "delivered_by": d.delivered_by or None,
        "channel": d.channel or None, "delivery_note": d.delivery_note or None, "acknowledged_at": d.acknowledged_at,
        "acknowledged_by": d.acknowledged_by or None, "acknowledge_note": d.acknowledge_note or None,
        "confirmed_at": d.confirmed_at, "confirmed_by": d.confirmed_by or None, "confirm_note": d.confirm_note or None,
        "on_behalf": d.on_behalf,
    }

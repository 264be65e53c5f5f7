"""Receipts of confirmed deliveries: a small UTF-8 text the customer keeps, signed with the portal's Ed25519 key.

A receipt is made from the delivery ledger, not from the delivery row: the ``confirmed`` event froze the
organisation's and the package's names and each file's name, size and SHA-256, and the events before it of the
same organisation say how the package travelled and who acknowledged it, by the names people had then. Ledger
events never change (``ledger.verify`` says so when one does), so the receipt's bytes — and therefore its Ed25519
signature, which is deterministic — are the same on every download. The signature is raw (64 bytes): what
``openssl pkeyutl -verify -pubin -inkey KEY -rawin -in receipt.txt -sigfile receipt.txt.sig`` reads
(docs/verify-signature.md).

Every interpolated value is squeezed to one line: a name or a title typed with line breaks cannot forge a line
of the receipt.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import i18n
from portal.config import Settings
from portal.releases import ledger, signing
from portal.releases.ledger_models import LedgerEvent
from portal.releases.models import Delivery

# The steps a receipt tells, besides the confirmation itself.
_STEPS = (ledger.Kind.downloaded, ledger.Kind.delivered, ledger.Kind.acknowledged)
CHANNELS = ("email", "media", "remote", "other")
SIGNATURE_SUFFIX = ".sig"


@dataclasses.dataclass(frozen=True)
class Receipt:
    delivery_id: int
    file_name: str  # what the customer saves it as: <package>-<organisation>-receipt.txt
    text: str

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8")


def _both(key: str) -> str:
    """Russian, then English: one file for the customer's records, whoever reads it later."""
    return f"{i18n.translate(key, 'ru')} / {i18n.translate(key, 'en')}"


def _line(value: object) -> str:
    return re.sub(r"\s+", " ", str(value)).strip()


def _when(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def confirmed_event(session: Session, delivery: Delivery) -> LedgerEvent | None:
    """The ledger event a receipt is made of: the delivery's (last) confirmation; None while not confirmed."""
    return session.scalar(select(LedgerEvent).where(
        LedgerEvent.package_id == delivery.package_id, LedgerEvent.organization_id == delivery.organization_id,
        LedgerEvent.kind == ledger.Kind.confirmed).order_by(LedgerEvent.seq.desc()).limit(1))


def has_receipt(session: Session, delivery: Delivery) -> bool:
    return confirmed_event(session, delivery) is not None


def receipts_of(session: Session, deliveries: list[Delivery]) -> set[int]:
    """Which of these deliveries have a receipt (one query for a page of them)."""
    by_key = {(d.package_id, d.organization_id): d.id for d in deliveries}
    if not by_key:
        return set()
    rows = session.execute(select(LedgerEvent.package_id, LedgerEvent.organization_id).where(
        LedgerEvent.kind == ledger.Kind.confirmed,
        LedgerEvent.package_id.in_({p for p, _ in by_key}),
        LedgerEvent.organization_id.in_({o for _, o in by_key})))
    return {by_key[key] for key in map(tuple, rows) if key in by_key}


def receipt(session: Session, delivery: Delivery) -> Receipt | None:
    """The delivery's receipt, or None if it has not been confirmed. The caller has checked who may read it."""
    confirmed = confirmed_event(session, delivery)
    if confirmed is None:
        return None
    facts = json.loads(confirmed.details)
    earlier = [e for e in ledger.events_of(session, package_id=delivery.package_id,
                                          organization_id=delivery.organization_id)
               if e.seq < confirmed.seq and e.kind in _STEPS]
    org = facts.get("organization") or {"name": delivery.organization.name, "slug": delivery.organization.slug}
    package = facts.get("package") or {"title": delivery.package.title, "version": delivery.package.version}
    files = facts.get("files") or []

    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{delivery.package_id}-{org['slug']}-receipt.txt")
    out = [_both("receipt.heading"), _both("receipt.portal"), "",
           f"{_both('receipt.organization')}: {_line(org['name'])} ({_line(org['slug'])})",
           f"{_both('receipt.package')}: {_line(delivery.package_id)}, "
           f"{_both('receipt.version')} {_line(package['version'])}",
           f"{_both('receipt.title')}: {_line(package['title'])}",
           "",
           f"{_both('receipt.files')}:"]
    out += [f"  {_line(f['name'])}  {int(f['size'])}  {_line(f['sha256'])}" for f in files] or ["  —"]
    out += ["", f"{_both('receipt.how')}:"]
    delivered_lines = []
    for event in earlier:
        who = _line(event.actor_name or event.actor)
        if event.kind == ledger.Kind.downloaded:
            delivered_lines.append(f"  {_when(event.at)}  {_both('receipt.downloaded')} — {who}")
        elif event.kind == ledger.Kind.delivered:
            details = json.loads(event.details)
            at = dt.datetime.fromisoformat(details["delivered_at"]) if details.get("delivered_at") else event.at
            channel = details.get("channel", "")
            said = _both(f"receipt.channel.{channel}") if channel in CHANNELS else _line(channel)
            delivered_lines.append(f"  {_when(at)}  {_both('receipt.handed_over')}: {said} — {who}")
    out += delivered_lines or [f"  {_both('receipt.not_recorded')}"]
    acknowledged = [e for e in earlier if e.kind == ledger.Kind.acknowledged]
    out += [""]
    if acknowledged:
        last = acknowledged[-1]
        out.append(f"{_both('receipt.acknowledged')}: {_line(last.actor_name or last.actor)}, {_when(last.at)}")
    else:
        out.append(_both("receipt.not_acknowledged"))
    on_behalf = f" ({_both('receipt.on_behalf')})" if facts.get("on_behalf") else ""
    out += [f"{_both('receipt.confirmed')}: {_line(confirmed.actor_name or confirmed.actor)}, "
            f"{_both('receipt.second_line')}, {_when(confirmed.at)}{on_behalf}",
            "",
            f"{_both('receipt.ledger')}: {_both('receipt.event')} {confirmed.seq}, SHA-256 {confirmed.hash}",
            "",
            f"{_both('receipt.verify')}: /api/v1/signing-key",
            "  openssl pkeyutl -verify -pubin -inkey primoart-portal-ed25519.pem -rawin \\",
            f"      -in {name} -sigfile {name}{SIGNATURE_SUFFIX}",
            ""]
    return Receipt(delivery_id=delivery.id, file_name=name, text="\n".join(out))


def signature(settings: Settings, found: Receipt) -> bytes:
    """The raw Ed25519 signature of the receipt's bytes (the ``-sigfile`` of ``openssl pkeyutl``)."""
    return base64.b64decode(signing.sign(settings, found.data))

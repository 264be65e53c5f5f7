"""Files a refused form keeps: bytes already in the blob store, named in the re-rendered form by a signed token.

A customer who chose a HAR file and mistyped another field must not choose it again, and the browser cannot put
a file back into ``<input type="file">``. So each upload goes into the blob store at once (``store_file``) and the
refused form lists it with a token: who staged it, its digest, size and name, when, signed with the secret key.
Resending the form attaches what the tokens name. A token is honoured only for the person it was issued to,
only unaltered, and only while the bytes are surely still stored: staged bytes no row refers to are orphans that
``blobs.sweep`` removes ``PORTAL_BLOB_GRACE_HOURS`` after they were stored, so a token lives half that long.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from portal import blobs
from portal.config import Settings
from portal.tickets.attachments import StoredFile, check_filename

TOKEN_MAX = 1024  # a token is about 200 characters; a longer form value is not one of ours


@dataclass(frozen=True)
class StagedFile:
    """A kept file as the form lists it: its token (the value sent back) and what the person sees."""

    token: str
    stored: StoredFile
    content_type: str | None = None

    @property
    def filename(self) -> str:
        return self.stored.filename

    @property
    def size(self) -> int:
        return self.stored.blob.size


def _signature(settings: Settings, payload: bytes) -> str:
    return hmac.new(settings.secret(), b"staged-upload:" + payload, hashlib.sha256).hexdigest()


def stage(settings: Settings, *, person_id: int, stored: StoredFile, content_type: str | None = None,
          now: float | None = None) -> StagedFile:
    """The token naming ``stored`` for ``person_id`` (the bytes are in the blob store already)."""
    payload = json.dumps([person_id, stored.blob.sha256, stored.blob.size, stored.filename,
                          (content_type or "")[:100], int(now if now is not None else time.time())],
                         ensure_ascii=False, separators=(",", ":")).encode()
    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return StagedFile(token=f"{encoded}.{_signature(settings, payload)}", stored=stored,
                      content_type=content_type or None)


def redeem(settings: Settings, *, person_id: int, token: str, now: float | None = None) -> StagedFile | None:
    """The file ``token`` names, or None when it is not one this person was given, has expired or is gone.

    None is the only answer to a forged, altered, another person's or stale token: the form then simply does
    not attach it, and never someone else's bytes."""
    if not token or len(token) > TOKEN_MAX or "." not in token:
        return None
    encoded, signature = token.rsplit(".", 1)
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(_signature(settings, payload), signature):
        return None
    try:
        owner, sha256, size, filename, content_type, issued = json.loads(payload)
    except (ValueError, TypeError):
        return None
    age = (now if now is not None else time.time()) - issued
    if owner != person_id or not 0 <= age < settings.blob_grace_hours * 3600 / 2:
        return None
    if not blobs.blob_store(settings).exists(sha256):
        return None
    stored = StoredFile(filename=check_filename(filename), blob=blobs.StoredBlob(sha256, size, created=False))
    return StagedFile(token=token, stored=stored, content_type=content_type or None)


def redeem_all(settings: Settings, *, person_id: int, tokens: Iterable[str]) -> list[StagedFile]:
    """The files the form's kept tokens name, each once, in the form's order; the others dropped."""
    kept: dict[str, StagedFile] = {}
    for token in tokens:
        staged = redeem(settings, person_id=person_id, token=token)
        if staged is not None and token not in kept:
            kept[token] = staged
    return list(kept.values())

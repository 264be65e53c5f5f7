"""Fix packages: create (draft), publish, withdraw, read. Plain functions, keyword-only, session first.

Files reach a package already in the blob store (``stage_file`` or the streamed upload in ``upload.py``);
a package only records their names, sizes, SHA-256 and signatures. A published file never changes: a new
file is a new package version. Publishing and withdrawing commit the manifest ``releases/<id>.md`` to
the content repository, so the history of every release is in git.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import logging
import re
from collections.abc import Sequence

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit, blobs, faults, intents, policy, storage
from portal.accounts.models import Organization
from portal.config import Settings
from portal.content import ContentRepo, author_of
from portal.db import utcnow
from portal.errors import Conflict, Invalid, NotFound, not_found
from portal.i18n import message
from portal.knowledge import service as knowledge
from portal.policy import Actor
from portal.releases import events, signing, supersede
from portal.releases import notes as release_notes
from portal.releases.models import (
    Delivery,
    DeliveryStatus,
    Package,
    PackageFile,
    PackageOrganization,
    PackageStatus,
    PackageTicket,
)
from portal.tickets import service as tickets
from portal.tickets.models import Ticket

log = logging.getLogger("portal.releases")

PACKAGE_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,78}[a-z0-9])?$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$")
FILE_NAME_MAX = 200
FILE_NAME_MAX_BYTES = 255
ALL_CUSTOMERS = ("all", "*")
MANIFEST_DIR = "releases"

# Human names of the fields, for 422 answers (``portal.wiring`` hands them to ``portal.validation``).
FIELD_LABELS = {name: message(f"field.{name}") for name in (
    "id", "title", "version", "product_versions", "modules", "ticket_ids", "organizations", "file", "notes", "reason",
    "sha256", "supersedes")}


def split_list(value: str | list[str] | None) -> list[str]:
    """A comma-separated field (or a repeated one) as a list, blanks and duplicates dropped."""
    items = value if isinstance(value, list) else [value or ""]
    out: list[str] = []
    for item in items:
        for part in (item or "").split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def check_file_name(name: str | None) -> str:
    """The server's own rule for file names: no control characters, slashes or backslashes, not over-long."""
    name = name or ""
    if not name.strip() or name in (".", ".."):
        raise Invalid.fields({"file": message("errors_releases.file_no_name")})
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise Invalid.fields({"file": message("errors_releases.file_control_chars")})
    if "/" in name or "\\" in name:
        raise Invalid.fields({"file": message("errors_releases.file_path")})
    if name != name.strip() or name.startswith("."):
        raise Invalid.fields({"file": message("errors_releases.file_dot_space")})
    if len(name) > FILE_NAME_MAX or len(name.encode()) > FILE_NAME_MAX_BYTES:
        raise Invalid.fields({"file": message("errors_releases.file_name_long", max=FILE_NAME_MAX)})
    return name


@dataclasses.dataclass
class StagedFile:
    """A file already in the blob store, waiting to become part of a package."""

    name: str
    blob: blobs.StoredBlob

    @property
    def sha256(self) -> str:
        return self.blob.sha256

    @property
    def size(self) -> int:
        return self.blob.size


def stage_file(*, settings: Settings, name: str, stream: blobs.Readable, expected_sha256: str | None = None) -> StagedFile:
    """Stream one file into the blob store (temporary file, then rename); the name is checked first."""
    name = check_file_name(name)
    writer = blobs.blob_store(settings).writer(max_bytes=settings.max_upload_bytes)
    try:
        while chunk := stream.read(blobs.CHUNK):
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    staged = StagedFile(name, writer.commit(expected_sha256=expected_sha256 or None))
    faults.point("upload.after_file")
    return staged


def discard_staged(*, session: Session, settings: Settings, staged: list[StagedFile]) -> None:
    """After a failed upload: remove the blobs it created, unless the same bytes were stored again meanwhile
    (another upload, an attachment) or a row refers to them — never another writer's blob; whatever stays
    unreferenced is removed by the sweep after ``PORTAL_BLOB_GRACE_HOURS``."""
    store = blobs.blob_store(settings)
    for item in staged:
        store.discard(item.blob, referenced=lambda sha256: storage.is_referenced(session, sha256))


def check_expected_sha256(staged: list[StagedFile], expected: list[str]) -> None:
    """Client-announced SHA-256 (in file order) against what arrived, compared in constant time."""
    if not expected:
        return
    if len(expected) != len(staged):
        raise Invalid.fields({"sha256": message("errors_releases.sha256_count", given=len(expected), files=len(staged))})
    for item, claimed in zip(staged, expected, strict=True):
        if not hmac.compare_digest(item.sha256.encode(), claimed.strip().lower().encode()):
            raise blobs.ChecksumMismatch(
                message("errors_releases.sha256_mismatch", name=item.name, actual=item.sha256, claimed=claimed),
                errors=[{"field": "sha256", "message": message("errors_releases.sha256_mismatch_field", name=item.name)}])


@dataclasses.dataclass
class PackageInput:
    id: str = ""
    title: str = ""
    version: str = ""
    product_versions: list[str] = dataclasses.field(default_factory=list)
    modules: list[str] = dataclasses.field(default_factory=list)
    ticket_ids: list[str] = dataclasses.field(default_factory=list)
    organizations: list[str] = dataclasses.field(default_factory=list)  # slugs, or "all"
    notes: str = ""
    supersedes: str = ""  # the ID of the published package this one replaces (its holders are told)


def require(actor: Actor | None, action: str, obj=None, *, missing: NotFound | None = None) -> None:
    """The one policy for everyone: people, the operator's command line, jobs."""
    policy.require(actor, action, obj, missing=missing)


def _actor_name(actor: Actor) -> str:
    return actor.audit_name




def _resolve_links(session: Session, data: PackageInput, errors: dict[str, str]):
    found_tickets = []
    missing = []
    for ticket_id in data.ticket_ids:
        try:
            found_tickets.append(tickets.get_ticket_unchecked(session=session, ticket_id=ticket_id))
        except NotFound:
            missing.append(ticket_id)
    if missing:
        errors["ticket_ids"] = message("errors_releases.tickets_missing", ids=", ".join(missing))
    all_customers = any(o.lower() in ALL_CUSTOMERS for o in data.organizations)
    named: list[Organization] = []
    unknown = []
    for slug in data.organizations:
        if slug.lower() in ALL_CUSTOMERS:
            continue
        org = session.scalar(select(Organization).where(Organization.slug == slug))
        if org is None:
            unknown.append(slug)
        else:
            named.append(org)
    if unknown:
        errors["organizations"] = message("errors_releases.organizations_unknown", slugs=", ".join(unknown))
    if not found_tickets and not named and not all_customers and "ticket_ids" not in errors \
            and "organizations" not in errors:
        errors["ticket_ids"] = message("errors_releases.no_audience")
    return found_tickets, named, all_customers


def _validate(data: PackageInput, errors: dict[str, str]) -> None:
    if not PACKAGE_ID_RE.match(data.id or ""):
        errors["id"] = message("errors_releases.id_format")
    elif ".." in data.id:
        errors["id"] = message("errors_releases.id_double_dot")
    if not (data.title or "").strip():
        errors["title"] = message("errors_releases.title_missing")
    elif len(data.title) > 200:
        errors["title"] = message("errors_releases.too_long", max=200)
    if not VERSION_RE.match(data.version or ""):
        errors["version"] = message("errors_releases.version_format")
    bad = [v for v in data.product_versions if not VERSION_RE.match(v)]
    if bad:
        errors["product_versions"] = message("errors_releases.product_versions_bad", versions=", ".join(bad))
    if any(len(m) > 120 for m in data.modules):
        errors["modules"] = message("errors_releases.module_long", max=120)
    if len(data.notes or "") > release_notes.NOTES_MAX:
        errors["notes"] = message("errors_releases.too_long", max=release_notes.NOTES_MAX)


def _check_files(files: list[StagedFile], errors: dict[str, str], existing: Sequence[str] = ()) -> None:
    if not files:
        errors["file"] = message("errors_releases.no_files_attached")
        return
    seen = set(existing)
    for item in files:
        if item.size == 0:
            errors["file"] = message("errors_releases.file_empty", name=item.name)
        elif item.name in seen:
            errors["file"] = message("errors_releases.file_twice", name=item.name)
        seen.add(item.name)


def _add_files(session: Session, settings: Settings, package: Package, files: list[StagedFile], actor) -> None:
    store = blobs.blob_store(settings)
    for item in files:
        session.add(PackageFile(
            package_id=package.id, name=item.name, size=item.size, sha256=item.sha256,
            signature=signing.sign(settings, f"{item.sha256}  {item.name}\n".encode()),
            uploaded_at=utcnow(), uploaded_by=_actor_name(actor), verified_stat=store.stat_key(item.sha256) or "",
        ))


def render_notes(*, session: Session, settings: Settings, package: Package) -> str:
    """Release notes from the template and the package's tickets."""
    linked = [tickets.get_ticket_unchecked(session=session, ticket_id=t) for t in package.ticket_ids]
    return release_notes.render(settings=settings, package=package_header(package), tickets=linked)


def package_header(package: Package) -> dict:
    return {"id": package.id, "title": package.title, "version": package.version,
            "product_versions": package.product_version_list, "modules": package.module_list}


def _normalised(data: PackageInput) -> PackageInput:
    return dataclasses.replace(data, id=(data.id or "").strip(), title=(data.title or "").strip(),
                               version=(data.version or "").strip(), ticket_ids=[t.upper() for t in data.ticket_ids],
                               supersedes=(data.supersedes or "").strip())


def check_input(*, session: Session, actor, data: PackageInput) -> dict[str, str]:
    """What is wrong with a package's fields, asked before any file is sent (the upload page checks as the person
    types and before the upload starts): the same checks as ``create_package`` except the files'."""
    require(actor, "package.manage")
    data = _normalised(data)
    errors: dict[str, str] = {}
    _validate(data, errors)
    _resolve_links(session, data, errors)
    if "id" not in errors and session.get(Package, data.id) is not None:
        errors["id"] = message("errors_releases.id_taken_field", id=data.id)
    if wrong := supersede.check(session, package_id=data.id, supersedes=data.supersedes):
        errors["supersedes"] = wrong
    return errors


def create_package(*, session: Session, settings: Settings, actor, data: PackageInput,
                   files: list[StagedFile]) -> Package:
    """A draft package with its files, tickets and entitled organisations; notes rendered unless given."""
    require(actor, "package.manage")
    data = _normalised(data)
    errors: dict[str, str] = {}
    _validate(data, errors)
    found_tickets, named, all_customers = _resolve_links(session, data, errors)
    if wrong := supersede.check(session, package_id=data.id, supersedes=data.supersedes):
        errors["supersedes"] = wrong
    _check_files(files, errors)
    if errors:
        raise Invalid.fields(errors)
    if session.get(Package, data.id) is not None:
        raise Conflict(message("errors_releases.id_taken", id=data.id))
    now = utcnow()
    package = Package(
        id=data.id, title=data.title, version=data.version, product_versions=",".join(data.product_versions),
        modules=",".join(data.modules), all_customers=all_customers, notes="", status=PackageStatus.draft.value,
        created_at=now, created_by=_actor_name(actor), supersedes_id=data.supersedes or None,
    )
    session.add(package)
    session.flush()
    for ticket in found_tickets:
        session.add(PackageTicket(package_id=package.id, ticket_id=ticket.id))
    orgs: dict[int, str] = {t.organization_id: "ticket" for t in found_tickets}
    for org in named:
        orgs.setdefault(org.id, "named")
    for org_id, source in orgs.items():
        session.add(PackageOrganization(package_id=package.id, organization_id=org_id, source=source))
    _add_files(session, settings, package, files, actor)
    session.flush()
    session.expire(package, ["tickets", "organizations", "files"])
    package.notes = data.notes.strip() + "\n" if (data.notes or "").strip() else \
        render_notes(session=session, settings=settings, package=package)
    audit.record(session, actor=actor, action="package.create", object_type="package", object_id=package.id,
                 details={"files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files],
                          "tickets": package.ticket_ids, "all_customers": all_customers,
                          "organizations": sorted(orgs), "supersedes": data.supersedes or None})
    session.flush()
    return package


def upload_package(*, session: Session, settings: Settings, actor, data: PackageInput, files: list[StagedFile],
                   expected_sha256: Sequence[str] = (), publish: bool = False) -> Package:
    """The one upload, for the API, the upload page and ``portal package upload``: staged files become a draft
    (published too when asked); if the draft cannot be made, the blobs this upload created are removed again.

    It commits, like publishing: the files reached the blob store before any transaction, and the draft either
    exists with all its rows or not at all (publishing then runs as its own git-and-database operation).
    """
    try:
        check_expected_sha256(files, list(expected_sha256))
        package = create_package(session=session, settings=settings, actor=actor, data=data, files=files)
        session.commit()
    except BaseException:
        session.rollback()
        if any(item.blob.created for item in files):
            # Read in a session of its own: the caller's is a write session, and nothing is written here.
            with Session(bind=session.get_bind().execution_options(portal_write=False)) as reader:
                discard_staged(session=reader, settings=settings, staged=files)
        raise
    if publish:
        package = publish_package(session=session, settings=settings, actor=actor, package_id=package.id)
    return package


def _load(session: Session, package_id: str) -> Package:
    package = session.get(Package, (package_id or "").strip()) if PACKAGE_ID_RE.match(package_id or "") else None
    if package is None:
        raise not_found("package", package_id)
    return package


def get_package(*, session: Session, package_id: str, user, action: str = "package.view") -> Package:
    """The package if the reader may see it: staff always, customers when entitled; otherwise 404.

    The role is asked before the package is looked up, so an action the reader may never take (a customer
    publishing) answers 403 whether or not the package exists; hidden and missing then answer alike.
    """
    require(user, action)
    package = _load(session, package_id)
    require(user, "package.view", package, missing=not_found("package", package_id))
    require(user, action, package, missing=not_found("package", package_id))
    return package


def get_package_unchecked(*, session: Session, package_id: str) -> Package:
    return _load(session, package_id)


def list_packages(*, session: Session, user, status: str | None = None) -> list[Package]:
    """Packages the reader may see, newest first; customers see only published or withdrawn ones offered to them."""
    policy.require(user, "package.view")
    stmt = select(Package).order_by(Package.created_at.desc(), Package.id)
    if status:
        if status not in PackageStatus.__members__:
            raise Invalid.fields({"status": message("errors_releases.allowed", values=", ".join(PackageStatus))})
        stmt = stmt.where(Package.status == status)
    return [p for p in session.scalars(stmt) if policy.allows(user, "package.view", p)]


def add_files(*, session: Session, settings: Settings, actor, package_id: str, files: list[StagedFile]) -> Package:
    """Add files to a draft; a published package's files never change."""
    package = get_package(session=session, package_id=package_id, user=actor, action="package.manage")
    if package.status != PackageStatus.draft:
        raise Conflict(message("errors_releases.published_files_fixed"))
    errors: dict[str, str] = {}
    _check_files(files, errors, existing=[f.name for f in package.files])
    if errors:
        raise Invalid.fields(errors)
    _add_files(session, settings, package, files, actor)
    session.flush()
    session.expire(package, ["files"])
    audit.record(session, actor=actor, action="package.add_files", object_type="package", object_id=package.id,
                 details={"files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files]})
    return package


def update_notes(*, session: Session, settings: Settings, actor, package_id: str, notes: str | None) -> Package:
    """Edit a draft's release notes (empty: render them again from the template)."""
    package = get_package(session=session, package_id=package_id, user=actor, action="package.manage")
    if package.status != PackageStatus.draft:
        raise Conflict(message("errors_releases.published_notes_fixed"))
    if len(notes or "") > release_notes.NOTES_MAX:
        raise Invalid.fields({"notes": message("errors_releases.too_long", max=release_notes.NOTES_MAX)})
    typed = (notes or "").strip()
    package.notes = typed + "\n" if typed else render_notes(session=session, settings=settings, package=package)
    audit.record(session, actor=actor, action="package.notes", object_type="package", object_id=package.id,
                 details={"length": len(package.notes)})
    session.flush()
    return package


def entitled_organizations(*, session: Session, package: Package) -> list[Organization]:
    if package.all_customers:
        return list(session.scalars(select(Organization).order_by(Organization.name)))
    return sorted((o.organization for o in package.organizations), key=lambda o: o.name)


def _check_publishable(package: Package) -> None:
    if package.status == PackageStatus.published:
        raise Conflict(message("errors_releases.already_published", id=package.id))
    if package.status == PackageStatus.withdrawn:
        raise Conflict(message("errors_releases.withdrawn_publish_new", id=package.id))
    if not package.files:
        raise Invalid.fields({"file": message("errors_releases.package_has_no_files")})


def publish_package(*, session: Session, settings: Settings, actor, package_id: str) -> Package:
    """Publish a draft: one commit of the manifest and of ``fixed_in`` in the articles citing its tickets, then
    deliveries (pending) for every entitled organisation, ticket events, notices and the audit row.

    A git-and-database operation under a durable intent (``portal.intents``): the intent is committed before
    the git commit, the database changes are its effect, applied right after — or by the reconciliation when
    the process died in between. The caller's transaction is committed first; no transaction spans git.
    """
    package = get_package(session=session, package_id=package_id, user=actor, action="package.manage")
    _check_publishable(package)
    now = utcnow()
    content = ContentRepo(settings)
    with intents.guarded(session, settings) as started, content.writing():
        session.refresh(package)  # another publisher may have been first while we waited for the lock
        _check_publishable(package)
        path = f"{MANIFEST_DIR}/{package.id}.md"
        files = {path: manifest(session=session, package=package, status=PackageStatus.published.value,
                                published_at=now, published_by=_actor_name(actor))}
        # The articles that cite its tickets name it in fixed_in in the same commit as its manifest.
        fixed = knowledge.fixed_in_changes(content=content, package_id=package.id, ticket_ids=package.ticket_ids)
        effects = [{"type": "package.publish", "package": package.id, "published_at": now.isoformat()},
                   {"type": "package.replacement_notices", "package": package.id}, *fixed.effects]
        commit_message = f"Опубликован пакет {package.id}"
        if fixed.slugs:
            commit_message += f"; он исправляет заявки статей: {', '.join(fixed.slugs)}"
        started.append(intents.begin(session, content=content, operation="package.publish", target=package.id,
                                     actor=actor, files={**files, **fixed.files}, effects=effects))
        commit = content.commit_files(files={**files, **fixed.files}, message=commit_message, author=author_of(actor))
    intents.finish(session, started[0], settings=settings, commit=commit)
    session.expire(package)  # changed by the intent's own transaction
    return package


def _apply_publish(session: Session, ctx: intents.EffectContext, eff: dict) -> None:
    package = session.get(Package, eff["package"])
    if package is None or package.status != PackageStatus.draft:
        log.warning("publish of %s not applied: the package is %s", eff["package"], package and package.status)
        return
    actor = ctx.actor
    now = dt.datetime.fromisoformat(eff["published_at"])
    package.status = PackageStatus.published.value
    package.published_at, package.published_by, package.manifest_commit = now, _actor_name(actor), ctx.commit
    orgs = entitled_organizations(session=session, package=package)
    for org in orgs:
        session.add(Delivery(package_id=package.id, organization_id=org.id, status=DeliveryStatus.pending.value,
                             created_at=now, updated_at=now))
    session.flush()
    _ticket_events(session, package, actor, "fix_published",
                   f"Опубликован пакет исправлений {package.id} «{package.title}»", title=package.title)
    events.package_published(events.PackagePublished(session=session, settings=ctx.settings, package=package,
                                                      organizations=tuple(orgs), at=now))
    details = {"organizations": [o.slug for o in orgs], "files": len(package.files), "commit": ctx.commit}
    audit.record(session, actor=actor, action="package.publish", object_type="package", object_id=package.id,
                 details={**details, "recovered": True} if ctx.recovered else details)
    session.flush()


def withdraw_package(*, session: Session, settings: Settings, actor, package_id: str, reason: str) -> Package:
    """Withdraw a published package: downloads stop; the reason is shown to entitled organisations.

    Like publishing, the manifest commit and the database changes are one operation under a durable intent.
    """
    package = get_package(session=session, package_id=package_id, user=actor, action="package.manage")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid.fields({"reason": message("errors_releases.withdraw_reason_missing")})
    if len(reason) > 5000:
        raise Invalid.fields({"reason": message("errors_releases.too_long", max=5000)})

    def check() -> None:
        if package.status == PackageStatus.draft:
            raise Conflict(message("errors_releases.withdraw_unpublished", id=package.id))
        if package.status == PackageStatus.withdrawn:
            raise Conflict(message("errors_releases.already_withdrawn", id=package.id))

    check()
    now = utcnow()
    content = ContentRepo(settings)
    with intents.guarded(session, settings) as started, content.writing():
        session.refresh(package)
        check()
        files = {f"{MANIFEST_DIR}/{package.id}.md": manifest(
            session=session, package=package, status=PackageStatus.withdrawn.value, withdrawn_at=now,
            withdrawn_by=_actor_name(actor), withdraw_reason=reason)}
        started.append(intents.begin(
            session, content=content, operation="package.withdraw", target=package.id, actor=actor, files=files,
            effects=[{"type": "package.withdraw", "package": package.id, "withdrawn_at": now.isoformat(),
                      "reason": reason}, {"type": "package.withdrawal_notices", "package": package.id}]))
        commit = content.commit_files(files=files, message=f"Отозван пакет {package.id}: {reason[:200]}",
                                      author=author_of(actor))
    intents.finish(session, started[0], settings=settings, commit=commit)
    session.expire(package)  # changed by the intent's own transaction
    return package


def _apply_withdraw(session: Session, ctx: intents.EffectContext, eff: dict) -> None:
    package = session.get(Package, eff["package"])
    if package is None or package.status != PackageStatus.published:
        log.warning("withdrawal of %s not applied: the package is %s", eff["package"], package and package.status)
        return
    reason = eff["reason"]
    package.status = PackageStatus.withdrawn.value
    package.withdrawn_at = dt.datetime.fromisoformat(eff["withdrawn_at"])
    package.withdrawn_by, package.withdraw_reason = _actor_name(ctx.actor), reason
    package.manifest_commit = ctx.commit
    _ticket_events(session, package, ctx.actor, "fix_withdrawn", f"Пакет исправлений {package.id} отозван: {reason}",
                   reason=reason)
    details = {"reason": reason, "commit": ctx.commit}
    audit.record(session, actor=ctx.actor, action="package.withdraw", object_type="package", object_id=package.id,
                 details={**details, "recovered": True} if ctx.recovered else details)
    session.flush()


# Added to portal.intents.EFFECTS by portal.wiring.
EFFECTS = (intents.Effect("package.publish", _apply_publish), intents.Effect("package.withdraw", _apply_withdraw))




def _ticket_events(session: Session, package: Package, actor, kind: str, comment: str, **facts: str) -> None:
    """The event on each of the package's tickets: the comment in Russian (the API, logs), the facts in the details
    so that the ticket page words it in its reader's language (history.yml)."""
    for ticket_id in package.ticket_ids:
        ticket = tickets.get_ticket_unchecked(session=session, ticket_id=ticket_id)
        tickets.record_event(session=session, ticket=ticket, actor=actor, kind=kind, comment=comment,
                             details={"package": package.id, **facts})


def manifest(*, session: Session, package: Package, **changes) -> str:
    """The manifest text: front matter with everything about the release, the notes as the body.

    ``changes`` (status, published_at, withdrawn_at …) describe the package as it is about to become: the
    manifest is committed before the database changes are applied.
    """
    p = {name: getattr(package, name) for name in ("status", "published_at", "published_by", "withdrawn_at",
                                                    "withdrawn_by", "withdraw_reason")} | changes
    orgs = ["all"] if package.all_customers else [o.organization.slug for o in package.organizations]
    meta = {
        "id": package.id, "title": package.title, "version": package.version, "status": p["status"],
        "product_versions": package.product_version_list, "modules": package.module_list,
        "tickets": package.ticket_ids, "organizations": sorted(orgs),
        "files": [{"name": f.name, "size": f.size, "sha256": f.sha256, "signature_ed25519": f.signature}
                  for f in package.files],
        "created_at": package.created_at.isoformat(), "created_by": package.created_by,
        "published_at": p["published_at"].isoformat() if p["published_at"] else None,
        "published_by": p["published_by"] or None,
    }
    if package.supersedes_id:
        meta["supersedes"] = package.supersedes_id
    if p["status"] == PackageStatus.withdrawn:
        meta.update(withdrawn_at=p["withdrawn_at"].isoformat(), withdrawn_by=p["withdrawn_by"],
                    withdraw_reason=p["withdraw_reason"])
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=100)
    return f"---\n{head}---\n\n{package.notes.strip()}\n"


def packages_for_ticket(*, session: Session, ticket_id: str, statuses=(PackageStatus.published,)) -> list[Package]:
    stmt = (select(Package).join(PackageTicket, PackageTicket.package_id == Package.id)
            .where(PackageTicket.ticket_id == ticket_id, Package.status.in_([s.value for s in statuses]))
            .order_by(Package.published_at, Package.id))
    return list(session.scalars(stmt))


def visible_ticket_ids(*, session: Session, package: Package, user) -> list[str]:
    """The package's tickets the reader may see: all for staff, their organisation's for a customer."""
    if user.is_staff:
        return package.ticket_ids
    if not package.ticket_ids:
        return []
    return list(session.scalars(select(Ticket.id).where(Ticket.id.in_(package.ticket_ids),
                                                        Ticket.organization_id == user.organization_id)
                                .order_by(Ticket.id)))

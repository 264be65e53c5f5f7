"""Who may do what to which object — the only place that answers it.

Routes, pages, the CLI and jobs ask ``allows(user, action, obj)`` or
``require(user, action, obj)``. A rule returns one of three decisions:

* ``ALLOW``;
* ``DENY`` — the reader may know the object exists but may not do this (403);
* ``HIDE`` — the object belongs to another customer organisation, or is an
  internal article for a customer: answer 404 so its existence does not leak.

Objects are duck-typed: anything with ``organization_id`` is scoped to an
organisation; anything with ``visibility`` is an article; anything with
``entitled_organization_ids`` (a set) is a fix package.

Who acts is an ``Actor``: a signed-in ``User``, or a ``SystemActor`` — ``portal init``, the command line on
behalf of an operator, a background job, e-mail intake. A system actor has a role (the rules above apply to
it as to a user of that role) and, except the operator and ``init``, an explicit list of rights: a job may
do only what it needs, intake only register tickets, comment, attach and hold messages. ``None`` is only
the anonymous reader, never the author of a change.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any, Literal

from portal import i18n
from portal.accounts.models import Role, User
from portal.errors import Forbidden, NotFound, Unauthorized, not_found


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    HIDE = "hide"


ALLOW, DENY, HIDE = Decision.ALLOW, Decision.DENY, Decision.HIDE

SystemKind = Literal["init", "operator", "job", "intake"]


@dataclasses.dataclass(frozen=True)
class SystemActor:
    """A change made without a signed-in user: ``portal init``, an operator's command, a job, e-mail intake.

    ``rights`` — the actions it may ever take (``None``: whatever its role allows); within them the role's
    rule decides, exactly as for a user of that role. Intake acting for a customer who wrote is that
    customer's role and organisation (``on_behalf_of``), so it can do no more than the customer could.
    """

    kind: SystemKind
    name: str
    role: str
    rights: frozenset[str] | None = None
    organization_id: int | None = None
    on_behalf_of: User | None = None

    id = None  # never a user row: the audit log keeps actor_id empty and names it by audit_name
    is_active = True
    email = None

    @classmethod
    def init(cls) -> SystemActor:
        """``portal init``: creates the administrator, organisations, catalogue and demo data."""
        return cls("init", "portal init", Role.admin.value)

    @classmethod
    def operator(cls, name: str) -> SystemActor:
        """The command line on behalf of an operator at the server (the OS user, or ``--as``): an administrator."""
        return cls("operator", name or "unknown", Role.admin.value)

    @classmethod
    def job(cls, name: str) -> SystemActor:
        """A background job, with only the rights listed for it in ``JOB_RIGHTS``."""
        return cls("job", name, Role.admin.value, rights=JOB_RIGHTS.get(name, frozenset()))

    @classmethod
    def intake(cls, on_behalf_of: User | None = None) -> SystemActor:
        """E-mail intake; acting for a customer who wrote, it has that customer's role and organisation."""
        if on_behalf_of is None:
            return cls("intake", "intake", Role.support.value, rights=INTAKE_RIGHTS)
        return cls("intake", "intake", on_behalf_of.role, rights=INTAKE_RIGHTS,
                   organization_id=on_behalf_of.organization_id, on_behalf_of=on_behalf_of)

    @classmethod
    def from_audit_name(cls, name: str) -> SystemActor:
        """The actor an audit name (``cli:root``, ``job:notify.outbox``, ``intake``, ``init``) stands for."""
        kind, _, rest = name.partition(":")
        if kind == "cli":
            return cls.operator(rest)
        if kind == "job":
            return cls.job(rest)
        if kind == "intake":
            return cls.intake()
        if kind == "init":
            return cls.init()
        raise LookupError(f"{name!r} names no system actor")

    @property
    def audit_name(self) -> str:
        """How the audit log names it: ``init``, ``cli:root``, ``job:notify.outbox``, ``intake``."""
        prefix = {"init": "init", "operator": "cli", "job": "job", "intake": "intake"}[self.kind]
        return f"{prefix}:{self.name}" if self.kind in ("operator", "job") else prefix

    @property
    def person(self) -> User | None:
        """The user a change is made for (the customer whose e-mail intake registers), if any."""
        return self.on_behalf_of

    @property
    def username(self) -> str:
        return self.audit_name

    @property
    def full_name(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.on_behalf_of is not None:
            return self.on_behalf_of.display_name
        return {"init": "portal init", "operator": f"оператор {self.name}", "job": f"задание {self.name}",
                "intake": "приём почты"}[self.kind]

    @property
    def is_staff(self) -> bool:
        return Role(self.role).is_staff


Actor = User | SystemActor


@dataclasses.dataclass(frozen=True)
class Visitor:
    """Someone not signed in, named only by what they typed (a failed login): audited, never allowed anything."""

    name: str

    id = None
    person = None

    @property
    def audit_name(self) -> str:
        return self.name or "anonymous"


# Whom an audit entry names: an actor, or a visitor whose login failed.
Audited = Actor | Visitor

# What each job may do: nothing beyond its work. A job absent from the table may do nothing.
JOB_RIGHTS: dict[str, frozenset[str]] = {
    "notify.reminders": frozenset({"ticket.view", "ticket.remind"}),
    "blobs.sweep": frozenset({"blobs.sweep"}),
    "intents.reconcile": frozenset({"intent.reconcile", "ticket.view"}),
    "releases.overdue": frozenset({"delivery.mark_overdue"}),
    "releases.notice_reminders": frozenset({"notice.remind"}),
    # Not scheduled: the check of a package file's bytes that runs before a download is served.
    "releases.verify": frozenset({"package.mark_corrupt"}),
}
INTAKE_RIGHTS = frozenset({"ticket.create", "ticket.create_for_other_org", "ticket.view", "ticket.comment",
                           "ticket.attach", "intake.hold"})
# Actions only system actors take (no person does them); granted only by a system actor's rights.
SYSTEM_ACTIONS = frozenset({"ticket.remind", "blobs.sweep", "intent.reconcile", "intake.hold",
                            "package.mark_corrupt", "delivery.mark_overdue", "notice.remind"})

Rule = Callable[[Actor | None, Any], Decision]

STAFF = frozenset({Role.admin, Role.support, Role.developer, Role.qa, Role.writer})
SECOND_LINE = frozenset({Role.admin, Role.support})
TICKET_WORKERS = frozenset({Role.admin, Role.support, Role.developer, Role.qa})
WRITERS = frozenset({Role.admin, Role.writer})


def _role(user: Actor | None) -> Role | None:
    return Role(user.role) if user is not None and user.is_active else None


def roles(allowed: frozenset[Role]) -> Rule:
    """Rule: the user's role is one of ``allowed``; customers of other roles are denied."""

    def rule(user, obj):
        return ALLOW if _role(user) in allowed else DENY

    return rule


def signed_in(user, obj):
    return ALLOW if _role(user) is not None else DENY


def staff_or_own_org(user, obj):
    """Staff see every organisation's object; a customer only their own, others are hidden."""
    role = _role(user)
    if role is None:
        return DENY
    if role in STAFF:
        return ALLOW
    if obj is None:
        return ALLOW
    return ALLOW if obj.organization_id == user.organization_id else HIDE


def _own_org_then(allowed_staff: frozenset[Role]) -> Rule:
    """Customers act on their own organisation's objects; among staff only ``allowed_staff``."""

    def rule(user, obj):
        role = _role(user)
        if role is None:
            return DENY
        if role is Role.customer:
            if obj is None:
                return ALLOW
            return ALLOW if obj.organization_id == user.organization_id else HIDE
        return ALLOW if role in allowed_staff else DENY

    return rule


def _staff_only_hiding_org_objects(allowed_staff: frozenset[Role]) -> Rule:
    """Staff in ``allowed_staff`` only; a customer is told 403 for own-org objects, 404 for others'."""

    def rule(user, obj):
        role = _role(user)
        if role is None:
            return DENY
        if role is Role.customer and obj is not None and getattr(obj, "organization_id", None) != user.organization_id:
            return HIDE
        return ALLOW if role in allowed_staff else DENY

    return rule


class Audience(enum.Enum):
    """Who reads articles: anyone (not signed in), a signed-in customer, staff. The knowledge base builds one
    site edition per audience and asks ``reads`` what goes into it; search and notify ask the same."""

    anonymous = "anonymous"
    customers = "customers"
    staff = "staff"


# Article visibility → the audiences that read it. Anything else (an unknown word) is read by staff only.
ARTICLE_READERS: dict[str, frozenset[Audience]] = {
    "public": frozenset(Audience),
    "customers": frozenset({Audience.customers, Audience.staff}),
    "internal": frozenset({Audience.staff}),
}


def audience(user) -> Audience:
    """The audience of a reader: anonymous (or disabled), a customer, or staff."""
    role = _role(user)
    if role is None:
        return Audience.anonymous
    return Audience.staff if role in STAFF else Audience.customers


def reads(reader: Audience, visibility: str) -> bool:
    """May this audience read an article of this visibility?"""
    return reader in ARTICLE_READERS.get(visibility, ARTICLE_READERS["internal"])


def article_visible(user, obj):
    """Article visibility: public to anyone allowed to read the KB, customers to signed-in users, internal to staff."""
    visibility = getattr(obj, "visibility", "internal") if obj is not None else "public"
    return ALLOW if reads(audience(user), visibility) else HIDE


def signed_in_reader(user, obj):
    """A signed-in reader of the article (votes on it): anonymous readers of the public edition answer no one."""
    return DENY if _role(user) is None else article_visible(user, obj)


def package_entitled(user, obj):
    """Fix packages: staff always; a customer only when their organisation is entitled."""
    role = _role(user)
    if role is None:
        return DENY
    if role in STAFF or obj is None:
        return ALLOW
    return ALLOW if user.organization_id in obj.entitled_organization_ids else HIDE


RULES: dict[str, Rule] = {
    # --- accounts and administration ---
    "user.manage": roles(frozenset({Role.admin})),
    "org.manage": roles(frozenset({Role.admin})),
    "org.list": roles(STAFF),
    "audit.read": roles(frozenset({Role.admin})),
    "token.manage_own": signed_in,
    "catalogue.manage": roles(frozenset({Role.admin})),
    "jobs.manage": roles(frozenset({Role.admin})),
    "outbox.manage": roles(frozenset({Role.admin})),
    # --- tickets ---
    "ticket.create": _own_org_then(SECOND_LINE),
    "ticket.create_for_other_org": roles(SECOND_LINE),
    "ticket.view": staff_or_own_org,
    "ticket.view_internal": roles(STAFF),
    "ticket.queue": roles(TICKET_WORKERS),
    "ticket.comment": _own_org_then(TICKET_WORKERS),
    "ticket.comment_internal": roles(TICKET_WORKERS),
    "ticket.attach": _own_org_then(TICKET_WORKERS),
    "ticket.triage": _staff_only_hiding_org_objects(SECOND_LINE),
    "ticket.escalate": _staff_only_hiding_org_objects(SECOND_LINE),
    # Third line hands an escalated ticket back to the second line (found it is not a defect, needs the
    # customer, …); second line takes it back the same way.
    "ticket.hand_back": _staff_only_hiding_org_objects(SECOND_LINE | {Role.developer}),
    "ticket.set_eta": _staff_only_hiding_org_objects(frozenset({Role.admin, Role.developer})),
    "ticket.verify": _staff_only_hiding_org_objects(frozenset({Role.admin, Role.support, Role.qa})),
    "ticket.resolve": _staff_only_hiding_org_objects(frozenset({Role.admin, Role.support, Role.qa})),
    "ticket.close": _own_org_then(SECOND_LINE),
    "ticket.reopen": _own_org_then(SECOND_LINE),
    "ticket.correct_priority": _staff_only_hiding_org_objects(SECOND_LINE),
    "ticket.assign": _staff_only_hiding_org_objects(TICKET_WORKERS),
    "ticket.override_delivery": _staff_only_hiding_org_objects(SECOND_LINE),
    # Second line merges a duplicate into the original (portal.tickets.merge).
    "ticket.merge": _staff_only_hiding_org_objects(SECOND_LINE),
    "sla.report": roles(SECOND_LINE),
    "intake.assign": roles(SECOND_LINE),
    # --- knowledge base and search ---
    "article.read": article_visible,
    "article.write": roles(WRITERS),
    "article.review": roles(WRITERS),
    "article.publish": roles(WRITERS),
    "article.from_ticket": roles(WRITERS | SECOND_LINE),
    "kb.build": roles(WRITERS),
    "article.vote": signed_in_reader,
    "article.feedback": roles(WRITERS),
    "search.use": signed_in,
    "search.insights": roles(WRITERS),
    # --- fix packages and deliveries ---
    "package.view": package_entitled,
    "package.download": package_entitled,
    "package.manage": roles(SECOND_LINE),
    "delivery.view": staff_or_own_org,
    "delivery.record": _staff_only_hiding_org_objects(SECOND_LINE),
    "delivery.confirm": _staff_only_hiding_org_objects(SECOND_LINE),
    "delivery.acknowledge": _own_org_then(SECOND_LINE),
    # A notice of a withdrawal or a replacement: the organisation it was sent to reads it and only its customers
    # acknowledge it (second line's word would not say the customer read it).
    "notice.view": staff_or_own_org,
    "notice.acknowledge": _own_org_then(frozenset()),
}


def decide(user: Actor | None, action: str, obj: Any = None) -> Decision:
    """The decision for ``user`` (``None``: an anonymous reader); a system actor first needs the right."""
    if action in SYSTEM_ACTIONS:
        if not isinstance(user, SystemActor):
            return DENY
        return ALLOW if user.rights is not None and action in user.rights else DENY
    try:
        rule = RULES[action]
    except KeyError:  # a typo must never become an open door
        raise LookupError(f"no policy rule for action {action!r}") from None
    if isinstance(user, SystemActor) and user.rights is not None and action not in user.rights:
        return DENY
    return rule(user, obj)


def allows(user: Actor | None, action: str, obj: Any = None) -> bool:
    return decide(user, action, obj) is ALLOW


def require(user: Actor | None, action: str, obj: Any = None, *, missing: NotFound | None = None) -> None:
    """Raise the right error unless allowed: 401 anonymous, 404 hidden, 403 denied.

    ``missing`` is the very error the caller raises when the object does not exist (``errors.not_found``):
    a hidden object must answer exactly like a missing one.
    """
    decision = decide(user, action, obj)
    if decision is ALLOW:
        return
    if decision is HIDE:
        raise missing if missing is not None else not_found("object")
    if user is None or not user.is_active:
        raise Unauthorized()
    raise Forbidden(i18n.message("error.forbidden"))

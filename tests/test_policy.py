"""The policy matrix: every role × every action, on own-organisation and other-organisation objects."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from portal import policy
from portal.accounts.models import Role
from portal.errors import Forbidden, NotFound, Unauthorized

OWN_ORG, OTHER_ORG = 1, 2


def user(role: str, active: bool = True):
    return SimpleNamespace(role=role, organization_id=OWN_ORG if role == "customer" else None, is_active=active,
                           username=role)


ROLES = [r.value for r in Role]
A, D, H = policy.ALLOW, policy.DENY, policy.HIDE

# action -> {role: decision on an object of the customer's own organisation (or no object)}
EXPECTED_OWN = {
    "user.manage":            dict(admin=A, support=D, developer=D, qa=D, writer=D, customer=D),
    "org.manage":             dict(admin=A, support=D, developer=D, qa=D, writer=D, customer=D),
    "org.list":               dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=D),
    "audit.read":             dict(admin=A, support=D, developer=D, qa=D, writer=D, customer=D),
    "token.manage_own":       dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=A),
    "catalogue.manage":       dict(admin=A, support=D, developer=D, qa=D, writer=D, customer=D),
    "jobs.manage":            dict(admin=A, support=D, developer=D, qa=D, writer=D, customer=D),
    "outbox.manage":          dict(admin=A, support=D, developer=D, qa=D, writer=D, customer=D),
    "ticket.create":          dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=A),
    "ticket.create_for_other_org": dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "ticket.view":            dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=A),
    "ticket.view_internal":   dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=D),
    "ticket.queue":           dict(admin=A, support=A, developer=A, qa=A, writer=D, customer=D),
    "ticket.comment":         dict(admin=A, support=A, developer=A, qa=A, writer=D, customer=A),
    "ticket.comment_internal": dict(admin=A, support=A, developer=A, qa=A, writer=D, customer=D),
    "ticket.attach":          dict(admin=A, support=A, developer=A, qa=A, writer=D, customer=A),
    "ticket.triage":          dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "ticket.escalate":        dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "ticket.hand_back":       dict(admin=A, support=A, developer=A, qa=D, writer=D, customer=D),
    "ticket.set_eta":         dict(admin=A, support=D, developer=A, qa=D, writer=D, customer=D),
    "ticket.verify":          dict(admin=A, support=A, developer=D, qa=A, writer=D, customer=D),
    "ticket.resolve":         dict(admin=A, support=A, developer=D, qa=A, writer=D, customer=D),
    "ticket.close":           dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=A),
    "ticket.reopen":          dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=A),
    "ticket.correct_priority": dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "ticket.assign":          dict(admin=A, support=A, developer=A, qa=A, writer=D, customer=D),
    "ticket.override_delivery": dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "ticket.merge":           dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "sla.report":             dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "intake.assign":          dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "article.write":          dict(admin=A, support=D, developer=D, qa=D, writer=A, customer=D),
    "article.review":         dict(admin=A, support=D, developer=D, qa=D, writer=A, customer=D),
    "article.publish":        dict(admin=A, support=D, developer=D, qa=D, writer=A, customer=D),
    "article.from_ticket":    dict(admin=A, support=A, developer=D, qa=D, writer=A, customer=D),
    "kb.build":               dict(admin=A, support=D, developer=D, qa=D, writer=A, customer=D),
    "article.vote":           dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=A),
    "article.feedback":       dict(admin=A, support=D, developer=D, qa=D, writer=A, customer=D),
    "search.use":             dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=A),
    "search.insights":        dict(admin=A, support=D, developer=D, qa=D, writer=A, customer=D),
    "package.view":           dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=A),
    "package.download":       dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=A),
    "package.manage":         dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "delivery.view":          dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=A),
    "delivery.record":        dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "delivery.confirm":       dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=D),
    "delivery.acknowledge":   dict(admin=A, support=A, developer=D, qa=D, writer=D, customer=A),
    "notice.view":            dict(admin=A, support=A, developer=A, qa=A, writer=A, customer=A),
    "notice.acknowledge":     dict(admin=D, support=D, developer=D, qa=D, writer=D, customer=A),
}

ORG_SCOPED = {a for a in EXPECTED_OWN if a.startswith(("ticket.", "delivery.", "notice."))} - {
    "ticket.create_for_other_org", "ticket.view_internal", "ticket.queue", "ticket.comment_internal"}


def own_object(action):
    if action.startswith("package."):
        return SimpleNamespace(entitled_organization_ids={OWN_ORG})
    if action in ("article.read", "article.vote"):
        return SimpleNamespace(visibility="customers")
    return SimpleNamespace(organization_id=OWN_ORG)


def other_object(action):
    if action.startswith("package."):
        return SimpleNamespace(entitled_organization_ids={OTHER_ORG})
    return SimpleNamespace(organization_id=OTHER_ORG)


def test_every_rule_is_in_the_matrix():
    assert set(policy.RULES) - {"article.read"} == set(EXPECTED_OWN)


@pytest.mark.parametrize("action", sorted(EXPECTED_OWN))
@pytest.mark.parametrize("role", ROLES)
def test_own_organisation(role, action):
    assert policy.decide(user(role), action, own_object(action)) is EXPECTED_OWN[action][role]


@pytest.mark.parametrize("action", sorted(ORG_SCOPED | {"package.view", "package.download"}))
def test_customer_never_learns_of_another_organisations_objects(action):
    assert policy.decide(user("customer"), action, other_object(action)) is H


@pytest.mark.parametrize("action", sorted(ORG_SCOPED | {"package.view", "package.download"}))
@pytest.mark.parametrize("role", [r for r in ROLES if r != "customer"])
def test_staff_decisions_do_not_depend_on_the_organisation(role, action):
    assert policy.decide(user(role), action, other_object(action)) is EXPECTED_OWN[action][role]


@pytest.mark.parametrize("visibility,role,expected", [
    ("public", None, A), ("customers", None, H), ("internal", None, H),
    ("public", "customer", A), ("customers", "customer", A), ("internal", "customer", H),
    *[(v, r, A) for v in ("public", "customers", "internal") for r in ROLES if r != "customer"],
])
def test_article_visibility(visibility, role, expected):
    reader = user(role) if role else None
    assert policy.decide(reader, "article.read", SimpleNamespace(visibility=visibility)) is expected


@pytest.mark.parametrize("visibility,role,expected", [
    ("public", None, D), ("customers", None, D), ("public", "customer", A), ("internal", "customer", H),
    ("internal", "writer", A),
])
def test_a_vote_is_a_signed_in_readers(visibility, role, expected):
    reader = user(role) if role else None
    assert policy.decide(reader, "article.vote", SimpleNamespace(visibility=visibility)) is expected


def test_anonymous_and_disabled_users_are_denied():
    for action in EXPECTED_OWN:
        assert policy.decide(None, action, own_object(action)) is not A
        assert policy.decide(user("admin", active=False), action, own_object(action)) is not A


def test_require_maps_decisions_to_errors():
    with pytest.raises(NotFound):
        policy.require(user("customer"), "ticket.view", other_object("ticket.view"))
    with pytest.raises(Forbidden):
        policy.require(user("writer"), "user.manage")
    with pytest.raises(Unauthorized):
        policy.require(None, "user.manage")


def test_unknown_action_is_an_error_not_an_open_door():
    with pytest.raises(LookupError):
        policy.allows(user("admin"), "ticket.delete_everything")


# --- system actors: the CLI, portal init, jobs, e-mail intake -------------------------------------

def test_system_actors_are_named_in_the_audit_log():
    from portal.policy import SystemActor

    assert SystemActor.operator("root").audit_name == "cli:root"
    assert SystemActor.job("notify.outbox").audit_name == "job:notify.outbox"
    assert SystemActor.intake().audit_name == "intake" and SystemActor.init().audit_name == "init"
    for name in ("cli:root", "job:notify.reminders", "intake", "init"):
        assert SystemActor.from_audit_name(name).audit_name == name


@pytest.mark.parametrize("action", sorted(EXPECTED_OWN))
def test_the_operator_and_init_decide_as_an_administrator(action):
    from portal.policy import SystemActor

    for actor in (SystemActor.operator("root"), SystemActor.init()):
        assert policy.decide(actor, action, own_object(action)) is EXPECTED_OWN[action]["admin"]


@pytest.mark.parametrize("action", sorted(EXPECTED_OWN))
def test_a_job_may_do_only_what_its_work_needs(action):
    from portal.policy import JOB_RIGHTS, SystemActor

    for name, rights in JOB_RIGHTS.items():
        expected = EXPECTED_OWN[action]["admin"] if action in rights else D
        assert policy.decide(SystemActor.job(name), action, own_object(action)) is expected
    assert policy.decide(SystemActor.job("no.such.job"), action, own_object(action)) is D


@pytest.mark.parametrize("action", sorted(EXPECTED_OWN))
def test_intake_for_a_customer_never_exceeds_that_customer(action):
    from portal.policy import SystemActor

    anna = user("customer")
    intake = SystemActor.intake(on_behalf_of=anna)
    decision = policy.decide(intake, action, own_object(action))
    if action in ("ticket.create", "ticket.view", "ticket.comment", "ticket.attach"):
        assert decision is EXPECTED_OWN[action]["customer"] is A
    else:
        assert decision is not A
    if action in ORG_SCOPED:  # another organisation's ticket stays hidden, as for the customer
        assert policy.decide(intake, action, other_object(action)) is not A


def test_refusals_of_system_actors_are_the_errors_a_user_gets():
    from portal.policy import SystemActor

    with pytest.raises(Forbidden):
        policy.require(SystemActor.job("notify.reminders"), "article.publish")
    with pytest.raises(Forbidden):
        policy.require(SystemActor.intake(on_behalf_of=user("customer")), "ticket.correct_priority",
                       own_object("ticket.correct_priority"))
    with pytest.raises(NotFound):
        policy.require(SystemActor.intake(on_behalf_of=user("customer")), "ticket.comment",
                       other_object("ticket.comment"), missing=NotFound("нет"))


@pytest.mark.parametrize("action", sorted(policy.SYSTEM_ACTIONS))
def test_system_actions_are_never_a_persons(action):
    from portal.policy import JOB_RIGHTS, SystemActor

    for role in ROLES:
        assert policy.decide(user(role), action) is D
    assert policy.decide(SystemActor.operator("root"), action) is D
    granted = [name for name, rights in JOB_RIGHTS.items() if action in rights]
    assert all(policy.decide(SystemActor.job(name), action) is A for name in granted)

"""The ticket page's actions: each transition of the workflow that this reader may take now, as one named step
(«Запросить информацию», «Отложить», «Решено» …) with only the fields that step needs.

The workflow (``portal.tickets.workflow``) says which statuses follow which and which policy action each needs;
a step is how a person asks for one of those transitions. Its name is the address of its screen
(``/tickets/{id}/act/{name}``) and the key of its words in ``portal/locales/*/flow.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal import policy
from portal.tickets import workflow
from portal.tickets.models import Status

# Where a transition into analysis comes from decides what a person means by it.
_INTO_ANALYSIS = {
    Status.new.value: "take",
    Status.awaiting_info.value: "continue",
    Status.escalated.value: "hand_back",
    Status.in_verification.value: "rework",
    Status.resolved.value: "reopen",
    Status.deferred.value: "reopen",
    Status.closed.value: "reopen",
}
_BY_TARGET = {
    Status.awaiting_info.value: "request_info",
    Status.escalated.value: "escalate",
    Status.suspended.value: "suspend",
    Status.deferred.value: "defer",
    Status.in_verification.value: "verify",
    Status.resolved.value: "resolve",
    Status.closed.value: "close",
}
# The order of the buttons: the usual next step first, the ones that stop the work last.
ORDER = ("take", "continue", "request_info", "escalate", "hand_back", "verify", "rework", "resolve", "close",
         "resume", "suspend", "defer", "reopen")
NAMES = frozenset(ORDER)

# A form field of a step: what the service calls it (comment, reason …) and what the form calls it.
RESOLUTION_FIELDS = ("cause", "solution", "workaround")
# Steps with no required text still take an optional comment the history keeps.
_OPTIONAL_COMMENT = frozenset({"continue", "escalate", "hand_back", "verify", "rework", "resume", "close"})


@dataclass(frozen=True)
class Step:
    name: str
    target: str  # the status the ticket goes to (resume: the one it had before suspension)
    transition: workflow.Transition

    @property
    def fields(self) -> tuple[str, ...]:
        """The form's fields, in order: ``comment``, ``reason``, ``defer_reason``, the resolution's three."""
        required = self.transition.requires
        fields: list[str] = []
        if "comment" in required or self.name in _OPTIONAL_COMMENT:
            fields.append("comment")
        if "reason" in required:
            fields.append("reason")
        if "defer_reason" in required:
            fields.append("defer_reason")
        if "resolution" in required:
            fields.extend(RESOLUTION_FIELDS)
        return tuple(fields)

    def required(self, field: str) -> bool:
        """The field must be filled in by itself (the browser checks it too)."""
        return field in self.transition.requires

    def optional(self, field: str) -> bool:
        """The field may stay empty (a resolution needs a solution or a workaround: neither is optional alone)."""
        either = ("solution", "workaround")
        return not self.required(field) and not (field in either and "resolution" in self.transition.requires)


def _name(source: str, transition: workflow.Transition) -> str:
    if transition.target == workflow.RESUME:
        return "resume"
    if transition.target == Status.in_analysis.value:
        return _INTO_ANALYSIS[source]
    return _BY_TARGET[transition.target]


def steps_from(ticket) -> list[Step]:
    """Every step out of the ticket's status, whoever may take it."""
    return [Step(_name(ticket.status, t), target, t) for target, t in workflow.transitions_from(ticket)]


def offered(ticket, user) -> list[Step]:
    """The steps this reader may take now, in the order of the buttons; taking a new ticket also needs the right
    to be assigned it (it is the queue's «Взять в работу»)."""
    if ticket.merged_into_id:  # a merged duplicate's work goes on in the ticket it was merged into
        return []
    steps = [s for s in steps_from(ticket) if policy.allows(user, s.transition.action, ticket)]
    steps = [s for s in steps if s.name != "take" or policy.allows(user, "ticket.assign", ticket)]
    return sorted(steps, key=lambda s: ORDER.index(s.name))


def find(ticket, name: str) -> Step | None:
    """The step called ``name`` from the ticket's status now, or None when there is none."""
    for step in steps_from(ticket):
        if step.name == name:
            return step
    return None

"""The regulation's stages as one transition table: from, to, the policy action, the fields required.

Stages («Этапы создания и обработки заявки») and where they live here:

=====================================================================  ==============================
Этап                                                                     status / action
=====================================================================  ==============================
Создание заявки (клиент и/или сотрудник ТП)                             ``new`` (register)
Дополнение информации, запрос информации у клиента (сотрудник ТП)       ``in_analysis`` ⇄ ``awaiting_info``
Проверка, нужно ли передавать на третью линию (сотрудник ТП)            ``in_analysis`` → ``escalated``
Напоминать клиенту о дополнительной информации (сотрудник ТП)           ``awaiting_info`` reminder date
Анализ причин ошибки и поиск решения (ТП и/или разработка)              ``in_analysis`` / ``escalated``
Определение сроков решения (отдел разработки)                           ETA (``POST …/eta``)
Проверка решения (тестирование и/или сотрудник ТП)                       ``in_verification``
Уведомление клиента о решении (сотрудник ТП)                             ``resolved``
Обновление базы знаний (технический писатель)                            event ``kb_updated``
Передача исправления Заказчику (сотрудник ТП)                            event ``fix_delivered``; ``closed``
=====================================================================  ==============================

«Ограничения поддержки» adds ``suspended`` (an adjacent service does its part; resume returns to the
status before) and ``deferred`` with one of five reasons; a resolved, deferred or closed ticket may be
reopened. ``CLOSE_GUARDS`` let other domains block closing (a published fix not yet delivered); the wiring
(``portal.wiring``) adds them, so every process checks the same guards whatever it imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from portal import policy
from portal.registry import Registry
from portal.tickets.models import Status

S = Status
RESUME = "resume"  # the "to" of leaving suspension: the status the ticket had before it


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    action: str  # policy action the actor needs
    requires: tuple[str, ...] = ()  # "comment", "reason", "defer_reason", "resolution"


TRANSITIONS: tuple[Transition, ...] = (
    # Second line takes a new ticket into analysis, asks for information, escalates or defers it.
    Transition(S.new, S.in_analysis, "ticket.triage"),
    Transition(S.new, S.awaiting_info, "ticket.triage", ("comment",)),
    Transition(S.new, S.escalated, "ticket.escalate"),
    Transition(S.new, S.deferred, "ticket.triage", ("defer_reason",)),
    Transition(S.in_analysis, S.awaiting_info, "ticket.triage", ("comment",)),
    Transition(S.in_analysis, S.escalated, "ticket.escalate"),
    Transition(S.in_analysis, S.in_verification, "ticket.verify"),
    Transition(S.in_analysis, S.resolved, "ticket.resolve", ("resolution",)),
    Transition(S.in_analysis, S.suspended, "ticket.triage", ("reason",)),
    Transition(S.in_analysis, S.deferred, "ticket.triage", ("defer_reason",)),
    # The customer's answer (a public reply also does this by itself).
    Transition(S.awaiting_info, S.in_analysis, "ticket.triage"),
    Transition(S.awaiting_info, S.suspended, "ticket.triage", ("reason",)),
    Transition(S.awaiting_info, S.deferred, "ticket.triage", ("defer_reason",)),
    # Third line analyses and sets the ETA; second line takes the ticket back or asks the customer.
    Transition(S.escalated, S.in_analysis, "ticket.hand_back"),
    Transition(S.escalated, S.awaiting_info, "ticket.triage", ("comment",)),
    Transition(S.escalated, S.in_verification, "ticket.verify"),
    Transition(S.escalated, S.suspended, "ticket.triage", ("reason",)),
    Transition(S.escalated, S.deferred, "ticket.triage", ("defer_reason",)),
    # QA or second line verify the solution.
    Transition(S.in_verification, S.resolved, "ticket.resolve", ("resolution",)),
    Transition(S.in_verification, S.escalated, "ticket.escalate", ("comment",)),
    Transition(S.in_verification, S.in_analysis, "ticket.verify", ("comment",)),
    Transition(S.in_verification, S.suspended, "ticket.triage", ("reason",)),
    # An adjacent service does its part; then work resumes where it stopped.
    Transition(S.suspended, RESUME, "ticket.triage"),
    Transition(S.suspended, S.deferred, "ticket.triage", ("defer_reason",)),
    # The customer is informed; the ticket closes (customer or second line) or is reopened.
    Transition(S.resolved, S.closed, "ticket.close"),
    Transition(S.resolved, S.in_analysis, "ticket.reopen", ("reason",)),
    Transition(S.deferred, S.in_analysis, "ticket.reopen", ("reason",)),
    Transition(S.deferred, S.closed, "ticket.close"),
    Transition(S.closed, S.in_analysis, "ticket.reopen", ("reason",)),
)

class CloseGuard(Protocol):
    """Another domain's objection to closing the ticket now: a reason a person can act on, or None."""

    def __call__(self, *, session, ticket) -> str | None: ...


CLOSE_GUARDS: Registry[CloseGuard] = Registry("tickets.close_guards")


def resolve_target(ticket, transition: Transition) -> str:
    if transition.target == RESUME:
        return ticket.status_before_suspension or S.in_analysis.value
    return transition.target


def transitions_from(ticket) -> list[tuple[str, Transition]]:
    """(target status, transition) for every transition out of the ticket's status."""
    return [(resolve_target(ticket, t), t) for t in TRANSITIONS if t.source == ticket.status]


def allowed_targets(ticket, user=None) -> list[str]:
    """Next statuses from here; with ``user``, only those the user may choose."""
    out = []
    for target, t in transitions_from(ticket):
        if user is None or policy.allows(user, t.action, ticket):
            if target not in out:
                out.append(target)
    return out


def find(ticket, target: str) -> Transition | None:
    for resolved, t in transitions_from(ticket):
        if resolved == target:
            return t
    return None


def close_blockers(*, session, ticket) -> list[str]:
    """Reasons other domains give against closing the ticket now."""
    reasons = []
    for guard in CLOSE_GUARDS:
        reason = guard(session=session, ticket=ticket)
        if reason:
            reasons.append(reason)
    return reasons

"""Tickets: registration, the workflow, comments, ETA, priority corrections, attachments, queue, SLA report.

Plain functions, keyword-only, session first; they flush and never commit. Every change is an event in
the ticket's history (``record_event``), and every event writes the audit log in the same transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, false, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from portal import audit, blobs, policy
from portal.accounts.models import Organization, User
from portal.config import Settings
from portal.db import utcnow
from portal.errors import Conflict, Invalid, NotFound, not_found
from portal.tickets import sla, workflow
from portal.tickets.models import (
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Channel,
    DeferReason,
    Kind,
    Priority,
    ProductModule,
    ProductVersion,
    Status,
    Ticket,
    TicketAttachment,
    TicketCounter,
    TicketEvent,
)
from portal.validation import register_field_labels

FIELD_LABELS = {
    "kind": "Вид обращения",
    "module": "Модуль",
    "product_version": "Версия продукта",
    "summary": "Краткое описание",
    "description": "Описание",
    "steps_to_reproduce": "Шаги воспроизведения",
    "priority": "Приоритет",
    "contact": "Контакты",
    "contact.name": "Контактное лицо",
    "contact.email": "Электронная почта",
    "contact.phone": "Телефон",
    "organization": "Организация",
    "channel": "Канал обращения",
    "status": "Статус",
    "comment": "Комментарий",
    "reason": "Причина",
    "solution": "Решение",
    "workaround": "Обходной путь",
    "body": "Текст",
    "eta": "Плановая дата решения",
    "assignee": "Исполнитель",
    "filename": "Имя файла",
    "file": "Файл",
}
register_field_labels(FIELD_LABELS)

STATUS_NAMES = {
    "new": "новая", "in_analysis": "в анализе", "awaiting_info": "ожидает информации от заказчика",
    "escalated": "передана на третью линию", "in_verification": "на проверке", "resolved": "решена",
    "closed": "закрыта", "suspended": "приостановлена", "deferred": "отложена",
}
# «Ограничения поддержки»: the regulation's words for each reason of deferral.
DEFER_REASONS = {
    DeferReason.cannot_reproduce.value: "невозможно повторить описанную проблему на аналогичной конфигурации "
    "оборудования и отсутствует доступ к ИТ-окружению, в котором работает Пользователь",
    DeferReason.no_information.value: "Пользователь не может предоставить исходную информацию для выявления "
    "и решения проблемы",
    DeferReason.out_of_scope.value: "вопрос выходит за рамки технической поддержки",
    DeferReason.incorrect_question.value: "вопрос задан некорректно (или обсуждение вопроса проводится "
    "неконструктивно) и решение проблемы затягивается из-за несвоевременного предоставления информации",
    DeferReason.unsupported_version.value: "версия Продукта является устаревшей и больше не поддерживается",
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9 ()\-]{5,40}$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,39}$")
FILENAME_MAX = 200
TEXT_MAX = 20_000

# fn(session=, ticket=, event=) after every event is flushed (notifications write their outbox here).
EVENT_LISTENERS: list[Callable[..., None]] = []


def _choices(enum_cls) -> str:
    return ", ".join(e.value for e in enum_cls)


def _is_support_staff(user) -> bool:
    """Staff who work tickets (second and third line, QA): their public replies count as a reaction."""
    return user is not None and not isinstance(user, str) and policy.allows(user, "ticket.comment_internal")


def _local(settings: Settings, moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(ZoneInfo(settings.timezone))


# --- the catalogue --------------------------------------------------------------------------------

def add_module(*, session: Session, actor, name: str, description: str = "") -> ProductModule:
    """Add a product module to the catalogue."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise Invalid.fields({"name": "укажите название модуля (до 120 символов)"})
    if session.scalar(select(ProductModule).where(ProductModule.name == name)):
        raise Conflict(f"Модуль «{name}» уже есть в каталоге.")
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


def add_version(*, session: Session, actor, name: str, supported: bool = True) -> ProductVersion:
    """Add a product version to the catalogue."""
    name = (name or "").strip()
    if not VERSION_RE.match(name):
        raise Invalid.fields({"name": "номер версии: цифры, латинские буквы, точки и дефисы, например 5.2.1"})
    if session.scalar(select(ProductVersion).where(ProductVersion.name == name)):
        raise Conflict(f"Версия {name} уже есть в каталоге.")
    version = ProductVersion(name=name, supported=supported)
    session.add(version)
    session.flush()
    audit.record(session, actor=actor, action="catalogue.version_add", object_type="product_version",
                 object_id=name, details={"supported": supported})
    return version


def list_versions(*, session: Session) -> list[ProductVersion]:
    return sorted(session.scalars(select(ProductVersion)), key=_version_key)


def set_version_supported(*, session: Session, actor, name: str, supported: bool) -> ProductVersion:
    """Mark a product version supported or no longer supported."""
    version = session.scalar(select(ProductVersion).where(ProductVersion.name == name))
    if version is None:
        raise NotFound(f"Версии {name} нет в каталоге.")
    if version.supported != supported:
        version.supported = supported
        session.flush()
        audit.record(session, actor=actor, action="catalogue.version_support", object_type="product_version",
                     object_id=name, details={"supported": supported})
    return version


# --- registration ---------------------------------------------------------------------------------

@dataclasses.dataclass
class TicketInput:
    """What a person fills in to register a ticket (the regulation's «Форма заявки»)."""

    kind: str | None = None
    module: str | None = None
    product_version: str | None = None
    summary: str | None = None
    description: str | None = None
    steps_to_reproduce: str | None = None
    priority: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    organization: str | None = None  # staff: the customer organisation's slug
    channel: str | None = None  # staff: email or phone

    def cleaned(self) -> TicketInput:
        return dataclasses.replace(self, **{f.name: (getattr(self, f.name) or "").strip()
                                            for f in dataclasses.fields(self)})


def allocate_id(*, session: Session, settings: Settings, registered_at: dt.datetime) -> str:
    """The next ID of the registration year, from a counter row updated in the caller's transaction.

    The UPDATE takes the row's write lock (PostgreSQL) or runs in a BEGIN IMMEDIATE transaction
    (SQLite), so concurrent registrations queue on it; a rolled-back registration gives its number back.
    """
    year = _local(settings, registered_at).year
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(TicketCounter).values(year=year, last=0).on_conflict_do_nothing(index_elements=["year"]))
    number = session.execute(
        update(TicketCounter).where(TicketCounter.year == year).values(last=TicketCounter.last + 1)
        .returning(TicketCounter.last)
    ).scalar_one()
    return f"{settings.ticket_prefix}-{year}-{number:05d}"


def _organization_for(session: Session, actor: User, slug: str, errors: dict[str, str]) -> Organization | None:
    if actor.organization_id is not None:
        if slug:
            named = session.scalar(select(Organization.id).where(Organization.slug == slug))
            if named != actor.organization_id:
                policy.require(actor, "ticket.create_for_other_org")
        policy.require(actor, "ticket.create")
        return session.get(Organization, actor.organization_id)
    policy.require(actor, "ticket.create_for_other_org")
    if not slug:
        errors["organization"] = "выберите организацию заказчика, от имени которой регистрируется обращение"
        return None
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        errors["organization"] = f"организации «{slug}» нет; список — на странице пользователей"
    return org


def _validate(session: Session, data: TicketInput, errors: dict[str, str]) -> ProductVersion | None:
    if data.kind not in Kind.__members__:
        errors["kind"] = ("выберите основание обращения: консультация, проблема или сбой, доступ, "
                          f"замечание или предложение ({_choices(Kind)})")
    if not data.module:
        errors["module"] = "укажите модуль продукта, при работе с которым возникла проблема"
    elif not session.scalar(select(ProductModule.id).where(ProductModule.name == data.module)):
        errors["module"] = f"модуля «{data.module}» нет в каталоге; выберите модуль из списка"
    version = None
    if not data.product_version:
        errors["product_version"] = "укажите версию продукта"
    else:
        version = session.scalar(select(ProductVersion).where(ProductVersion.name == data.product_version))
        if version is None:
            errors["product_version"] = f"версии {data.product_version} нет в каталоге; выберите версию из списка"
    if not data.summary:
        errors["summary"] = "кратко опишите обращение одной строкой"
    elif len(data.summary) > 200:
        errors["summary"] = "не длиннее 200 символов"
    if not data.description:
        errors["description"] = "опишите проблему или вопрос"
    if data.kind == Kind.problem and not data.steps_to_reproduce:
        errors["steps_to_reproduce"] = "для проблемы или сбоя укажите шаги воспроизведения"
    if data.priority not in Priority.__members__:
        errors["priority"] = f"выберите приоритет: критический, высокий, средний или низкий ({_choices(Priority)})"
    if not data.contact_name:
        errors["contact.name"] = "укажите, с кем связаться по обращению"
    if not data.contact_email and not data.contact_phone:
        errors["contact"] = "укажите хотя бы один способ связи: электронную почту или телефон"
    if data.contact_email and not EMAIL_RE.match(data.contact_email):
        errors["contact.email"] = "адрес электронной почты выглядит неверно"
    if data.contact_phone and not PHONE_RE.match(data.contact_phone):
        errors["contact.phone"] = "телефон: цифры, пробелы, скобки, дефисы и + в начале"
    return version


def register(*, session: Session, settings: Settings, actor: User, data: TicketInput,
             now: dt.datetime | None = None) -> Ticket:
    """Register a ticket: validate the regulation's fields, give it an ID and its SLA reaction deadline."""
    now = now or utcnow()
    data = data.cleaned()
    errors: dict[str, str] = {}
    org = _organization_for(session, actor, data.organization, errors)
    customer_side = actor.organization_id is not None
    if customer_side:
        channel = Channel.portal.value
        data.contact_name = data.contact_name or actor.display_name
        if not data.contact_phone:
            data.contact_email = data.contact_email or actor.email or ""
    else:
        channel = data.channel
        if channel not in Channel.__members__:
            errors["channel"] = "укажите, как поступило обращение: email (письмо) или phone (звонок)"
    version = _validate(session, data, errors)
    if errors:
        raise Invalid.fields(errors)
    ticket = Ticket(
        id=allocate_id(session=session, settings=settings, registered_at=now),
        organization_id=org.id, requester_id=actor.id if customer_side else None,
        registered_by_id=actor.id, channel=channel, kind=data.kind, module=data.module,
        product_version=data.product_version, version_unsupported=not version.supported,
        summary=data.summary, description=data.description, steps_to_reproduce=data.steps_to_reproduce,
        contact_name=data.contact_name, contact_email=data.contact_email, contact_phone=data.contact_phone,
        priority=data.priority, status=Status.new.value, is_open=True, registered_at=now, updated_at=now,
        sla_reaction_due=sla.reaction_due(settings, registered_at=now, priority=data.priority),
        paused_seconds=0, paused_seconds_at_eta=0,
    )
    session.add(ticket)
    session.flush()
    record_event(session=session, ticket=ticket, actor=actor, kind="created", to_status=Status.new.value,
                 details={"priority": ticket.priority, "channel": channel, "kind": ticket.kind,
                          "version_unsupported": ticket.version_unsupported}, now=now)
    return ticket


# --- reading --------------------------------------------------------------------------------------

def _not_found(ticket_id: str) -> NotFound:
    return NotFound(f"Заявка {ticket_id} не найдена. Проверьте номер (например, PRM-2026-00042).")


def get_ticket_unchecked(*, session: Session, ticket_id: str) -> Ticket:
    """The ticket by ID with its attachments and people loaded, without a permission check (jobs)."""
    ticket = session.scalar(
        select(Ticket).where(Ticket.id == (ticket_id or "").strip().upper())
        .options(selectinload(Ticket.attachments), selectinload(Ticket.assignee), selectinload(Ticket.requester))
    )
    if ticket is None:
        raise _not_found(ticket_id)
    return ticket


def get_ticket(*, session: Session, ticket_id: str, user) -> Ticket:
    """The ticket if the reader may see it; another organisation's ticket answers 404 like an unknown one."""
    try:
        ticket = get_ticket_unchecked(session=session, ticket_id=ticket_id)
    except NotFound:
        raise _not_found(ticket_id) from None
    if policy.decide(user, "ticket.view", ticket) is policy.HIDE:
        raise _not_found(ticket_id)
    policy.require(user, "ticket.view", ticket)
    return ticket


def history(*, session: Session, ticket: Ticket, user) -> list[TicketEvent]:
    """The ticket's events the reader may see: internal comments only for staff."""
    stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    if not policy.allows(user, "ticket.view_internal", ticket):
        stmt = stmt.where(TicketEvent.public.is_(True))
    return list(session.scalars(stmt))


@dataclasses.dataclass
class TicketFilters:
    organization: str | None = None  # slug
    priority: str | None = None
    status: str | None = None  # a status, or "open"
    module: str | None = None
    assignee: str | None = None  # username, or "none"
    kind: str | None = None


def _filtered(session: Session, user, filters: TicketFilters):
    policy.require(user, "ticket.view")
    stmt = select(Ticket).options(selectinload(Ticket.assignee))
    if not policy.allows(user, "ticket.view_internal"):
        stmt = stmt.where(Ticket.organization_id == user.organization_id)
    errors = {}
    if filters.organization:
        org_id = session.scalar(select(Organization.id).where(Organization.slug == filters.organization))
        stmt = stmt.where(Ticket.organization_id == (org_id or -1))
    if filters.priority:
        if filters.priority not in Priority.__members__:
            errors["priority"] = f"допустимы: {_choices(Priority)}"
        stmt = stmt.where(Ticket.priority == filters.priority)
    if filters.status == "open":
        stmt = stmt.where(Ticket.is_open == true())
    elif filters.status:
        if filters.status not in Status.__members__:
            errors["status"] = f"допустимы: open, {_choices(Status)}"
        stmt = stmt.where(Ticket.status == filters.status)
    if filters.kind:
        stmt = stmt.where(Ticket.kind == filters.kind)
    if filters.module:
        stmt = stmt.where(Ticket.module == filters.module)
    if filters.assignee == "none":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif filters.assignee:
        user_id = session.scalar(select(User.id).where(User.username == filters.assignee))
        stmt = stmt.where(Ticket.assignee_id == (user_id or -1))
    if errors:
        raise Invalid.fields(errors)
    return stmt


def list_tickets(*, session: Session, user, filters: TicketFilters | None = None, limit: int = 50,
                 offset: int = 0) -> list[Ticket]:
    """Tickets the reader may see, newest first; customers only their organisation's."""
    stmt = _filtered(session, user, filters or TicketFilters())
    stmt = stmt.order_by(Ticket.registered_at.desc(), Ticket.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def queue(*, session: Session, user, filters: TicketFilters | None = None, limit: int = 50,
          offset: int = 0) -> list[Ticket]:
    """Second line's queue: open tickets in order of arrival (the regulation's rule)."""
    policy.require(user, "ticket.queue")
    filters = filters or TicketFilters()
    if not filters.status:
        filters = dataclasses.replace(filters, status="open")
    stmt = _filtered(session, user, filters)
    stmt = stmt.order_by(Ticket.registered_at, Ticket.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


@dataclasses.dataclass
class QueueSummary:
    open_by_priority: dict[str, int]
    breached: int
    unassigned: int

    @property
    def total(self) -> int:
        return sum(self.open_by_priority.values())


def queue_summary(*, session: Session, now: dt.datetime | None = None) -> QueueSummary:
    """Open tickets by priority, those past their reaction deadline, those nobody took (one index-only pass)."""
    now = now or utcnow()
    breached = or_(Ticket.sla_met == false(), and_(Ticket.reacted_at.is_(None), Ticket.sla_reaction_due < now))
    rows = session.execute(
        select(Ticket.priority, func.count(), func.sum(case((breached, 1), else_=0)),
               func.sum(case((Ticket.assignee_id.is_(None), 1), else_=0)))
        .where(Ticket.is_open == true()).group_by(Ticket.priority)
    ).all()
    counts = {priority: count for priority, count, _, _ in rows}
    return QueueSummary({p.value: counts.get(p.value, 0) for p in Priority},
                        sum(int(b or 0) for _, _, b, _ in rows), sum(int(u or 0) for _, _, _, u in rows))


# --- the history ----------------------------------------------------------------------------------

def record_event(*, session: Session, ticket: Ticket, actor, kind: str, comment: str = "", public: bool = True,
                 details: dict[str, Any] | None = None, from_status: str | None = None,
                 to_status: str | None = None, now: dt.datetime | None = None) -> TicketEvent:
    """Add an event to the ticket's history, audit it, and tell the listeners (same transaction)."""
    now = now or utcnow()
    is_user = actor is not None and not isinstance(actor, str)
    event = TicketEvent(
        ticket_id=ticket.id, at=now, actor_id=actor.id if is_user else None,
        actor_name=actor.display_name if is_user else (actor or audit.SYSTEM),
        actor_is_staff=bool(is_user and actor.is_staff), kind=kind, from_status=from_status,
        to_status=to_status, comment=comment or "", public=public, details=audit._jsonable(details or {}),
    )
    session.add(event)
    ticket.updated_at = now
    session.flush()
    audit.record(session, actor=actor, action=f"ticket.{kind}", object_type="ticket", object_id=ticket.id,
                 organization_id=ticket.organization_id,
                 details={"from": from_status, "to": to_status, "public": public, **(details or {})})
    for listener in EVENT_LISTENERS:
        listener(session=session, ticket=ticket, event=event)
    return event


def _mark_reaction(ticket: Ticket, now: dt.datetime) -> None:
    if ticket.reacted_at is None:
        ticket.reacted_at = now
        ticket.sla_met = now <= ticket.sla_reaction_due


def _move(ticket: Ticket, target: str, *, settings: Settings, now: dt.datetime, comment: str = "",
          reason: str = "") -> None:
    """Apply a status change to the ticket's fields: pauses, suspension, information requests, plan."""
    source = ticket.status
    was_paused, paused = source in PAUSED_STATUSES, target in PAUSED_STATUSES
    if was_paused and not paused and ticket.paused_since is not None:
        ticket.paused_seconds = int(ticket.paused_total(now).total_seconds())
        ticket.paused_since = None
    elif paused and not was_paused:
        ticket.paused_since = now
    if target == Status.suspended:
        ticket.status_before_suspension, ticket.suspend_reason = source, reason
    elif source == Status.suspended:
        ticket.status_before_suspension = None
    if target == Status.awaiting_info:
        if source != Status.suspended:
            ticket.info_request, ticket.info_requested_at = comment, now
        ticket.info_reminder_on = sla.next_reminder(settings, since=now)
    elif target != Status.suspended:
        ticket.info_reminder_on = None
    if target == Status.deferred:
        ticket.defer_reason = reason
    elif source == Status.deferred:
        ticket.defer_reason = None
    if target == Status.resolved:
        ticket.resolved_at = now
        if ticket.eta is not None:
            paused_during_plan = ticket.paused_seconds - (ticket.paused_seconds_at_eta or 0)
            ticket.eta_met = now <= ticket.eta + dt.timedelta(seconds=paused_during_plan)
    elif target == Status.closed:
        ticket.closed_at = now
    elif source in (Status.resolved, Status.closed, Status.deferred):  # reopened
        ticket.resolved_at = ticket.closed_at = ticket.eta_met = None
    ticket.status = target
    ticket.is_open = target in OPEN_STATUSES


def _required(transition: workflow.Transition, *, comment: str, reason: str, solution: str,
              workaround: str) -> dict[str, str]:
    errors = {}
    if "comment" in transition.requires and not comment:
        if transition.target == Status.awaiting_info:
            errors["comment"] = "напишите, какую информацию нужно предоставить заказчику"
        else:
            errors["comment"] = "поясните причину в комментарии"
    if "reason" in transition.requires and not reason:
        errors["reason"] = ("укажите причину приостановки: какую часть работ выполняет смежный сервис"
                            if transition.target == Status.suspended else "укажите причину")
    if "defer_reason" in transition.requires and reason not in DEFER_REASONS:
        errors["reason"] = f"укажите причину из регламента: {', '.join(DEFER_REASONS)}"
    if "resolution" in transition.requires and not (solution or workaround):
        errors["solution"] = "укажите решение или обходной путь"
    return errors


def change_status(*, session: Session, settings: Settings, ticket: Ticket, actor: User, status: str,
                  comment: str = "", reason: str = "", cause: str = "", solution: str = "", workaround: str = "",
                  override: bool = False, now: dt.datetime | None = None) -> Ticket:
    """Move the ticket along the regulation's workflow; 409 naming the allowed next statuses otherwise."""
    now = now or utcnow()
    comment, reason = (comment or "").strip(), (reason or "").strip()
    solution, workaround, cause = (solution or "").strip(), (workaround or "").strip(), (cause or "").strip()
    if status not in Status.__members__:
        raise Invalid.fields({"status": f"недопустимое значение; допустимы: {_choices(Status)}"})
    transition = workflow.find(ticket, status)
    if transition is None:
        allowed = workflow.allowed_targets(ticket, actor)
        names = ", ".join(f"{s} ({STATUS_NAMES[s]})" for s in allowed) or "нет доступных вам переходов"
        raise Conflict(f"Заявку в статусе «{STATUS_NAMES[ticket.status]}» нельзя перевести в «{STATUS_NAMES[status]}». "
                       f"Допустимо: {names}.", extra={"status": ticket.status, "allowed": allowed})
    policy.require(actor, transition.action, ticket)
    errors = _required(transition, comment=comment, reason=reason, solution=solution, workaround=workaround)
    if errors:
        raise Invalid.fields(errors)
    details: dict[str, Any] = {}
    if status == Status.closed:
        blockers = workflow.close_blockers(session=session, ticket=ticket)
        if blockers and not override:
            raise Conflict("Заявку нельзя закрыть: " + "; ".join(blockers) + ". Вторая линия может закрыть её "
                           "с обоснованием (override и reason).", extra={"blockers": blockers, "allowed": []})
        if blockers:
            policy.require(actor, "ticket.override_delivery", ticket)
            if not reason:
                raise Invalid.fields({"reason": "обоснуйте закрытие заявки вопреки: " + "; ".join(blockers)})
            details.update(override=True, blockers=blockers)
    if reason:
        details["reason"] = reason
    if status == Status.deferred:
        details["reason_text"] = DEFER_REASONS[reason]
    if status == Status.resolved:
        ticket.resolution_cause, ticket.resolution_solution, ticket.resolution_workaround = cause, solution, workaround
        details.update(cause=cause, solution=solution, workaround=workaround)
    source = ticket.status
    _move(ticket, status, settings=settings, now=now, comment=comment, reason=reason)
    if source == Status.new and _is_support_staff(actor):
        _mark_reaction(ticket, now)
    if status == Status.resolved and ticket.eta_met is not None:
        details["eta_met"] = ticket.eta_met
    record_event(session=session, ticket=ticket, actor=actor, kind="status", comment=comment or reason,
                 from_status=source, to_status=status, details=details, now=now)
    return ticket


def correct_priority(*, session: Session, settings: Settings, ticket: Ticket, actor: User, priority: str,
                     reason: str, now: dt.datetime | None = None) -> Ticket:
    """Second line corrects the priority with a reason; the reaction deadline is recomputed from registration."""
    policy.require(actor, "ticket.correct_priority", ticket)
    reason = (reason or "").strip()
    errors = {}
    if priority not in Priority.__members__:
        errors["priority"] = f"недопустимое значение; допустимы: {_choices(Priority)}"
    elif priority == ticket.priority:
        errors["priority"] = "у заявки уже этот приоритет"
    if not reason:
        errors["reason"] = "сообщите заказчику причину изменения приоритета"
    if errors:
        raise Invalid.fields(errors)
    before, due_before = ticket.priority, ticket.sla_reaction_due
    ticket.priority = priority
    ticket.sla_reaction_due = sla.reaction_due(settings, registered_at=ticket.registered_at, priority=priority)
    if ticket.reacted_at is not None:
        ticket.sla_met = ticket.reacted_at <= ticket.sla_reaction_due
    record_event(session=session, ticket=ticket, actor=actor, kind="priority", comment=reason,
                 details={"from": before, "to": priority, "reason": reason,
                          "sla_reaction_due_before": due_before, "sla_reaction_due": ticket.sla_reaction_due},
                 now=now)
    return ticket


def add_comment(*, session: Session, settings: Settings, ticket: Ticket, actor: User, body: str,
                public: bool = True, now: dt.datetime | None = None) -> TicketEvent:
    """A public or internal comment; staff's public reply is a reaction, the customer's answers a request."""
    now = now or utcnow()
    policy.require(actor, "ticket.comment", ticket)
    if not public:
        policy.require(actor, "ticket.comment_internal", ticket)
    body = (body or "").strip()
    if not body:
        raise Invalid.fields({"body": "напишите текст комментария"})
    staff = _is_support_staff(actor)
    if public and staff:
        _mark_reaction(ticket, now)
    event = record_event(session=session, ticket=ticket, actor=actor, kind="comment", comment=body, public=public,
                         now=now)
    if public and not staff and ticket.status == Status.awaiting_info:
        _move(ticket, Status.in_analysis.value, settings=settings, now=now)
        record_event(session=session, ticket=ticket, actor=actor, kind="status", comment="",
                     from_status=Status.awaiting_info.value, to_status=Status.in_analysis.value,
                     details={"by": "customer_reply"}, now=now)
    return event


def parse_period(since: str, until: str, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """A report period from two dates (``until`` inclusive) in the portal's time zone."""
    from portal.timeutil import DateOutOfRange, parse_local

    errors, bounds = {}, {}
    for name, text in (("since", since), ("until", until)):
        try:
            bounds[name] = parse_local(text, tz)
        except DateOutOfRange as exc:
            bounds[name], errors[name] = None, str(exc)
            continue
        except ValueError:
            bounds[name] = None
        if bounds[name] is None:
            errors[name] = "дата в формате ГГГГ-ММ-ДД"
    if errors:
        raise Invalid.fields(errors)
    end = bounds["until"] + dt.timedelta(days=1) if len(until.strip()) == 10 else bounds["until"]
    return bounds["since"], end


def parse_eta(text: str, tz: str) -> dt.datetime:
    """An ETA from ISO 8601; a bare date means the end of that day in the portal's time zone."""
    from portal.timeutil import DateOutOfRange, parse_local

    try:
        value = parse_local(text, tz)
    except DateOutOfRange as exc:
        raise Invalid.fields({"eta": str(exc)}) from None
    except ValueError:
        value = None
    if value is None:
        raise Invalid.fields({"eta": "дата в формате ГГГГ-ММ-ДД или ГГГГ-ММ-ДДTЧЧ:ММ"})
    if len(text.strip()) == 10:
        value = value + dt.timedelta(hours=23, minutes=59)
    return value


def set_eta(*, session: Session, ticket: Ticket, actor: User, eta: dt.datetime, comment: str = "",
            now: dt.datetime | None = None) -> Ticket:
    """The developers set the planned resolution date; the customer sees it."""
    now = now or utcnow()
    policy.require(actor, "ticket.set_eta", ticket)
    if not ticket.is_open:
        raise Conflict(f"Заявка в статусе «{STATUS_NAMES[ticket.status]}»: плановую дату решения задают "
                       "для открытой заявки.", extra={"status": ticket.status})
    if eta <= now:
        raise Invalid.fields({"eta": "плановая дата решения должна быть в будущем"})
    before = ticket.eta
    ticket.eta, ticket.eta_set_at = eta, now
    ticket.paused_seconds_at_eta = int(ticket.paused_total(now).total_seconds())
    record_event(session=session, ticket=ticket, actor=actor, kind="eta", comment=(comment or "").strip(),
                 details={"eta": eta, "previous": before}, now=now)
    return ticket


def assign(*, session: Session, ticket: Ticket, actor: User, assignee: str | None,
           now: dt.datetime | None = None) -> Ticket:
    """Give the ticket to a member of staff who works tickets (or to nobody)."""
    policy.require(actor, "ticket.assign", ticket)
    person = None
    if assignee:
        person = session.scalar(select(User).where(User.username == assignee))
        if person is None or not person.is_active or not policy.allows(person, "ticket.queue"):
            raise Invalid.fields({"assignee": f"«{assignee}» не работает с заявками (вторая, третья линия, QA)"})
    if (person.id if person else None) == ticket.assignee_id:
        return ticket
    ticket.assignee_id, ticket.assignee = (person.id, person) if person else (None, None)
    record_event(session=session, ticket=ticket, actor=actor, kind="assigned", public=False,
                 details={"assignee": person.username if person else None}, now=now)
    return ticket


def take(*, session: Session, settings: Settings, ticket: Ticket, actor: User) -> Ticket:
    """Second line takes a ticket from the queue: assigned to them, and a new one goes into analysis."""
    assign(session=session, ticket=ticket, actor=actor, assignee=actor.username)
    if ticket.status == Status.new:
        change_status(session=session, settings=settings, ticket=ticket, actor=actor,
                      status=Status.in_analysis.value)
    return ticket


# --- attachments ----------------------------------------------------------------------------------

def check_filename(name: str) -> str:
    """A safe attachment name: no control characters, slashes or backslashes, not over-long."""
    name = (name or "").strip()
    if not name or name in (".", ".."):
        raise Invalid.fields({"filename": "у файла нет имени"})
    if len(name) > FILENAME_MAX:
        raise Invalid.fields({"filename": f"имя файла длиннее {FILENAME_MAX} символов; переименуйте файл"})
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "/" in name or "\\" in name:
        raise Invalid.fields({"filename": "имя файла не должно содержать управляющих символов, / и \\"})
    return name


def add_attachment(*, session: Session, settings: Settings, ticket: Ticket, actor: User, filename: str,
                   stream: BinaryIO, content_type: str | None = None) -> TicketAttachment:
    """Store a file (logs, screenshots) in the blob store and attach it to the ticket."""
    policy.require(actor, "ticket.attach", ticket)
    filename = check_filename(filename)
    stored = blobs.blob_store(settings).put(stream, max_bytes=settings.max_attachment_bytes)
    if stored.size == 0:
        raise Invalid.fields({"file": "файл пуст"})
    attachment = TicketAttachment(
        ticket_id=ticket.id, filename=filename, content_type=(content_type or "application/octet-stream")[:100],
        sha256=stored.sha256, size=stored.size, uploaded_at=utcnow(), uploaded_by_id=actor.id,
        uploaded_by_name=actor.display_name,
    )
    session.add(attachment)
    session.flush()
    record_event(session=session, ticket=ticket, actor=actor, kind="attachment",
                 details={"filename": filename, "size": stored.size, "sha256": stored.sha256})
    return attachment


def get_attachment(*, session: Session, ticket: Ticket, attachment_id: int) -> TicketAttachment:
    attachment = session.get(TicketAttachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket.id:
        raise not_found("attachment", attachment_id)
    return attachment


# --- the SLA report -------------------------------------------------------------------------------

@dataclasses.dataclass
class SlaRow:
    priority: str
    total: int = 0
    met: int = 0
    breached: int = 0
    pending: int = 0
    median_reaction_hours: float | None = None

    @property
    def met_share(self) -> float | None:
        decided = self.met + self.breached
        return round(self.met / decided, 4) if decided else None

    @property
    def breached_share(self) -> float | None:
        decided = self.met + self.breached
        return round(self.breached / decided, 4) if decided else None


@dataclasses.dataclass
class SlaReport:
    since: dt.datetime
    until: dt.datetime
    rows: list[SlaRow]
    total: SlaRow


def sla_report(*, session: Session, settings: Settings, user, since: dt.datetime, until: dt.datetime,
               now: dt.datetime | None = None) -> SlaReport:
    """Tickets registered in [since, until): by priority, met / breached / pending, median reaction time."""
    policy.require(user, "sla.report")
    if until <= since:
        raise Invalid.fields({"until": "конец периода должен быть позже начала"})
    now = now or utcnow()
    calendar = sla.Calendar.from_settings(settings)
    rows = {p.value: SlaRow(p.value) for p in Priority}
    total = SlaRow("total")
    reactions: dict[str, list[dt.timedelta]] = {p.value: [] for p in Priority}
    result = session.execute(
        select(Ticket.priority, Ticket.registered_at, Ticket.sla_reaction_due, Ticket.reacted_at, Ticket.sla_met)
        .where(Ticket.registered_at >= since, Ticket.registered_at < until)
    )
    for priority, registered_at, due, reacted_at, met in result:
        row = rows[priority]
        for r in (row, total):
            r.total += 1
            if met is True:
                r.met += 1
            elif met is False or (reacted_at is None and due < now):
                r.breached += 1
            else:
                r.pending += 1
        if reacted_at is not None:
            reactions[priority].append(calendar.elapsed(registered_at, reacted_at))
    for priority, durations in reactions.items():
        rows[priority].median_reaction_hours = sla.median_hours(durations)
    total.median_reaction_hours = sla.median_hours([d for ds in reactions.values() for d in ds])
    return SlaReport(since, until, list(rows.values()), total)

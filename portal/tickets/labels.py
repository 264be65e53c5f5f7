"""What people read about tickets: field labels, status names, the regulation's reasons of deferral."""

from __future__ import annotations

from portal.tickets.models import (
    DeferReason,
)

# Human names of the fields, for 422 answers (``portal.wiring`` hands them to ``portal.validation``).
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


def choices(enum_cls) -> str:
    """The values of an enumeration, for a message that lists what is allowed."""
    return ", ".join(e.value for e in enum_cls)

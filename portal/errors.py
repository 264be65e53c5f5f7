"""Domain exceptions carry their HTTP status; one handler in app.py renders them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from portal.validation import FIELD_LABELS


class PortalError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, headers=None, extra=None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(PortalError):
    status_code = 400


class Unauthorized(PortalError):
    status_code = 401

    def __init__(self, detail: str = "Требуется вход в систему.", **kw):
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(PortalError):
    status_code = 403


class NotFound(PortalError):
    status_code = 404


# One way to say "not there" per kind of object. A missing object and one the reader may not learn of
# (another organisation's, an internal article for a customer) must answer with the same status, body and
# message, or the difference tells that it exists: both paths build their error here.
_MISSING = {
    "object": ("Объект", "не найден"),
    "package": ("Пакет", "не найден"),
    "file": ("Файл", "не найден"),
    "delivery": ("Доставка", "не найдена"),
    "article": ("Статья", "не найдена"),
    "ticket": ("Заявка", "не найдена"),
    "attachment": ("Вложение", "не найдено"),
    "comment": ("Комментарий", "не найден"),
    "organization": ("Организация", "не найдена"),
    "token": ("Токен", "не найден"),
}


def not_found(kind: str, ident: object = None, *, hint: str = "") -> NotFound:
    """404 for an object of ``kind`` that is not there — or that the reader may not know of."""
    noun, verb = _MISSING[kind]
    if ident is None or ident == "":
        named = noun
    elif isinstance(ident, int):
        named = f"{noun} № {ident}"
    else:
        named = f"{noun} «{str(ident)[:200]}»"
    return NotFound(f"{named} {verb}." + (f" {hint}" if hint else ""))


class Conflict(PortalError):
    status_code = 409


class PayloadTooLarge(PortalError):
    status_code = 413


class RangeNotSatisfiable(PortalError):
    status_code = 416


class Invalid(PortalError):
    """422: the input is understood but wrong; ``errors`` names each field."""

    status_code = 422

    @classmethod
    def fields(cls, errors: dict[str, str]) -> "Invalid":
        """422 naming each field; a field's Russian label, when registered, is added and used in the detail."""
        listed = []
        for f, m in errors.items():
            item = {"field": f, "message": m}
            label = FIELD_LABELS.get(f)
            if label:
                item["label"] = label
            listed.append(item)
        summary = "; ".join(f"{e.get('label') or e['field']}: {e['message']}" for e in listed)
        return cls(f"Проверьте поля — {summary}", errors=listed)


class TooManyRequests(PortalError):
    status_code = 429


class Unavailable(PortalError):
    status_code = 503


class NotInitialised(PortalError):
    """The data home or database is not ready; the message says what to run."""

    status_code = 503


# --- what every error answer looks like: the OpenAPI schema declares these ---------------------------

class FieldErrorOut(BaseModel):
    field: str = Field(description="The field, dotted for nested ones (contact.email); body for the whole body")
    message: str = Field(description="What is wrong with it, in Russian")
    label: str | None = Field(default=None, description="The field's Russian name, when it has one")


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer of the API: a message a person can act on, in Russian. Some add fields:
    a 409 of the ticket workflow lists the `allowed` statuses."""

    model_config = ConfigDict(extra="allow", title="Error")

    detail: str = Field(description="What went wrong and what to do, in Russian")
    errors: list[FieldErrorOut] | None = Field(default=None, description="422: each field that is wrong")

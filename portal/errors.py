"""Domain exceptions carry their HTTP status; one handler in app.py renders them.

A message is an ``i18n.Message`` (a key of ``portal/locales/*/errors*.yml`` and its values) or plain text; the
handler reads it in the language of whoever asked (``payload(lang)``), forms show it through ``web.form_errors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from portal.i18n import Joined, Message, in_language, message
from portal.validation import FIELD_LABELS


class PortalError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, headers=None, extra=None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def payload(self, lang: str | None = None) -> dict[str, Any]:
        """The answer's body; with ``lang``, every message in it read in that language."""
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return in_language(body, lang) if lang else body


class BadRequest(PortalError):
    status_code = 400


class Unauthorized(PortalError):
    status_code = 401

    def __init__(self, detail: str = message("error.sign_in_required"), **kw):
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(PortalError):
    status_code = 403


class NotFound(PortalError):
    status_code = 404


# One way to say "not there" per kind of object. A missing object and one the reader may not learn of
# (another organisation's, an internal article for a customer) must answer with the same status, body and
# message, or the difference tells that it exists: both paths build their error here.
# The catalogues word each kind: error.missing.<kind> («Заявка не найдена.»), error.missing_number.<kind> and
# error.missing_named.<kind> (with {ident}).
MISSING_KINDS = ("object", "package", "file", "delivery", "article", "ticket", "attachment", "comment",
                 "organization", "token", "notice")


def not_found(kind: str, ident: object = None, *, hint: str = "") -> NotFound:
    """404 for an object of ``kind`` that is not there — or that the reader may not know of."""
    if kind not in MISSING_KINDS:
        raise ValueError(f"no wording for a missing {kind!r}")
    if ident is None or ident == "":
        said = message(f"error.missing.{kind}")
    elif isinstance(ident, int):
        said = message(f"error.missing_number.{kind}", ident=ident)
    else:
        said = message(f"error.missing_named.{kind}", ident=str(ident)[:200])
    return NotFound(Joined([said, " ", hint]) if hint else said)


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
    def fields(cls, errors: Mapping[str, str]) -> "Invalid":
        """422 naming each field; a field's label, when registered, is added and used in the detail."""
        listed: list[dict[str, Any]] = []
        for f, m in errors.items():
            item: dict[str, Any] = {"field": f, "message": m}
            label = FIELD_LABELS.get(f)
            if label:
                item["label"] = label
            listed.append(item)
        return cls(check_fields(listed), errors=listed)


def check_fields(listed: list[dict[str, Any]]) -> Message:
    """«Проверьте поля — Краткое описание: …; Контакт: …» for the listed field errors."""
    parts: list[Any] = []
    for e in listed:
        parts += ["; " if parts else "", e.get("label") or e["field"], ": ", e["message"]]
    return message("error.check_fields", summary=Joined(parts))


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
    message: str = Field(description="What is wrong with it, in the reader's language (Accept-Language; Russian "
                                     "by default)")
    label: str | None = Field(default=None, description="The field's name, when it has one")


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer of the API: a message a person can act on, in the reader's language
    (Accept-Language: Russian by default, or English). Some add fields: a 409 of the ticket workflow lists the
    `allowed` statuses."""

    model_config = ConfigDict(extra="allow", title="Error")

    detail: str = Field(description="What went wrong and what to do, in the reader's language")
    errors: list[FieldErrorOut] | None = Field(default=None, description="422: each field that is wrong")

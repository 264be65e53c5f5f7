"""Domain exceptions carry their HTTP status; one handler in app.py renders them."""

from __future__ import annotations

from typing import Any


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
        from portal.validation import FIELD_LABELS

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

"""Turns pydantic's validation errors into 4xx answers a person can act on, in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Path

from portal.i18n import Message, message

# Row IDs are INTEGER columns: 32-bit on PostgreSQL (64-bit on SQLite), so the common bound is 2³¹−1. A larger
# number must be a 422 naming the range, not an overflow in the driver (PostgreSQL refuses it as out of range).
MAX_ID = 2**31 - 1
# (English, as the rest of the OpenAPI document: see portal/openapi.py)
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="Row number: an integer from 1 to 2,147,483,647")]
MAX_OFFSET = 10_000_000  # paging deeper than this is a mistake, and OFFSET must stay a 64-bit integer

# Human names of the domains' fields, {"summary": message("field.summary"), …}, added by portal.wiring.
FIELD_LABELS: dict[str, Message] = {}


def register_field_labels(labels: dict[str, Message]) -> None:
    FIELD_LABELS.update(labels)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie", "form")]
    return ".".join(parts) or "body"


# pydantic's error types → the key of their wording (portal/locales/*/errors.yml: error.input.<name>).
_INPUT_KINDS = {
    "missing": "missing", "extra_forbidden": "extra_forbidden", "string_type": "string", "str_type": "string",
    "int_parsing_size": "int_too_long", "int_type": "int", "int_parsing": "int", "int_from_float": "int",
    "bool_type": "bool", "bool_parsing": "bool", "float_type": "float", "float_parsing": "float",
    "list_type": "list", "dict_type": "object", "model_type": "object", "model_attributes_type": "object",
    "enum": "choice", "literal_error": "choice", "string_too_short": "too_short", "string_too_long": "too_long",
    "greater_than_equal": "at_least", "greater_than": "at_least", "less_than_equal": "at_most",
    "less_than": "at_most",
}


def _message(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind in _INPUT_KINDS:
        return message(f"error.input.{_INPUT_KINDS[kind]}", expected=ctx.get("expected", ""),
                       min_length=ctx.get("min_length"), max_length=ctx.get("max_length"),
                       bound=ctx.get("ge", ctx.get("gt")) if "greater" in kind else ctx.get("le", ctx.get("lt")))
    if kind.startswith(("datetime", "date")):
        return message("error.input.datetime")
    if kind == "value_error":
        error = ctx.get("error")
        if isinstance(error, ValueError) and error.args and isinstance(error.args[0], Message):
            return error.args[0]  # a validator's own message, still to be worded for its reader
        return str(error or err.get("msg", "")).removeprefix("Value error, ")
    if kind == "value_error.email" or "email" in kind:
        return message("error.input.email")
    return err.get("msg") or message("error.input.wrong")


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> tuple[int, dict[str, Any]]:
    """(status, body): 400 for a body that is not JSON at all, else 422 naming every field."""
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            return 400, {"detail": message("error.input.not_json", reason=reason)}
    listed = []
    for err in errors:
        field = _field(tuple(err.get("loc", ())))
        if field == "body" and err.get("type") in ("model_attributes_type", "dict_type", "model_type"):
            return 422, {"detail": message("error.input.body_not_object"),
                         "errors": [{"field": "body", "message": message("error.input.json_object")}]}
        label = FIELD_LABELS.get(field.split(".")[-1])
        listed.append({"field": field, "label": label, "message": _message(err)})
    from portal.errors import check_fields  # errors imports this module's labels at its top

    return 422, {"detail": check_fields(listed), "errors": listed}

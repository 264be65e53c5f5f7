"""Turns pydantic's validation errors into 4xx answers a person can act on, in Russian."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Path

# Row IDs are INTEGER columns: 32-bit on PostgreSQL (64-bit on SQLite), so the common bound is 2³¹−1. A larger
# number must be a 422 naming the range, not an overflow in the driver (PostgreSQL refuses it as out of range).
MAX_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="Номер записи: целое число от 1 до 2 147 483 647")]
MAX_OFFSET = 10_000_000  # paging deeper than this is a mistake, and OFFSET must stay a 64-bit integer

# Human names of the domains' fields, {"summary": "Краткое описание", …}, added by portal.wiring.
FIELD_LABELS: dict[str, str] = {}


def register_field_labels(labels: dict[str, str]) -> None:
    FIELD_LABELS.update(labels)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie", "form")]
    return ".".join(parts) or "body"


def _message(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "обязательное поле не заполнено"
    if kind == "extra_forbidden":
        return "неизвестное поле; уберите его из запроса"
    if kind in ("string_type", "str_type"):
        return "ожидается строка"
    if kind == "int_parsing_size":
        return "слишком длинное число"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "ожидается целое число"
    if kind in ("bool_type", "bool_parsing"):
        return "ожидается true или false"
    if kind in ("float_type", "float_parsing"):
        return "ожидается число"
    if kind in ("list_type",):
        return "ожидается список"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "ожидается объект"
    if kind in ("enum", "literal_error"):
        return f"недопустимое значение; допустимы: {ctx.get('expected', '')}"
    if kind == "string_too_short":
        return f"слишком коротко: не меньше {ctx.get('min_length')} символов"
    if kind == "string_too_long":
        return f"слишком длинно: не больше {ctx.get('max_length')} символов"
    if kind in ("greater_than_equal", "greater_than"):
        return f"значение должно быть не меньше {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"значение должно быть не больше {ctx.get('le', ctx.get('lt'))}"
    if kind.startswith(("datetime", "date")):
        return "ожидается дата и время в формате ISO 8601, например 2026-12-01T18:00:00+03:00"
    if kind == "value_error":
        return str(ctx.get("error") or err.get("msg", "")).removeprefix("Value error, ")
    if kind == "value_error.email" or "email" in kind:
        return "адрес электронной почты выглядит неверно"
    return err.get("msg", "неверное значение")


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> tuple[int, dict[str, Any]]:
    """(status, body): 400 for a body that is not JSON at all, else 422 naming every field."""
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            return 400, {"detail": f"Тело запроса не является корректным JSON ({reason}). "
                                   "Проверьте кавычки, запятые и скобки."}
    listed = []
    for err in errors:
        field = _field(tuple(err.get("loc", ())))
        if field == "body" and err.get("type") in ("model_attributes_type", "dict_type", "model_type"):
            return 422, {"detail": "Тело запроса должно быть JSON-объектом с полями, описанными в /api/docs.",
                         "errors": [{"field": "body", "message": "ожидается JSON-объект"}]}
        label = FIELD_LABELS.get(field.split(".")[-1])
        listed.append({"field": field, "label": label, "message": _message(err)})
    summary = "; ".join(f"{e['label'] or e['field']}: {e['message']}" for e in listed)
    return 422, {"detail": f"Проверьте поля — {summary}", "errors": listed}

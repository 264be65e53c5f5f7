"""The OpenAPI schema as the API really answers: the error shape, the errors each operation can give,
authentication, and binary downloads.

FastAPI documents only the success and a 422 of its own shape (``detail`` as an array), which this API
never sends. Each operation here gets the statuses it can answer with, all in the one error shape
(``portal.errors.ErrorOut``): 400 and 413 where there is a request body, 401 and 403 where a sign-in is
needed, 404 where the path names an object, 409 for writes, 422 where there is input to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from portal.errors import ErrorOut

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# Operations anyone may call without signing in.
PUBLIC = {("post", "/api/v1/auth/token"), ("get", "/api/v1/signing-key"), ("get", "/healthz")}
# Statuses particular to one operation.
EXTRA = {("post", "/api/v1/auth/token"): {401, 429}}

# English, as the rest of this document (operation summaries, schema and field names): the schema is one cached
# document for integrators and their code generators, not a page with a reader — while every error *answer*
# (``detail``, ``errors``) is worded in the asker's language.
DESCRIPTIONS = {
    400: "The request body is not valid JSON, or a request header is wrong.",
    401: "Sign-in required: no token, or it has expired or been revoked.",
    403: "Not allowed to do this.",
    404: "Not found (or it belongs to another organisation — the answer is the same).",
    409: "The action conflicts with the object's state (for example, a status change not allowed from here).",
    413: "The request body is larger than allowed.",
    422: "Wrong input; `errors` names each field.",
    429: "Too many failed sign-in attempts; try again later (Retry-After).",
    503: "Part of the portal is unavailable; the answer names it.",
}

BINARY = {"schema": {"type": "string", "format": "binary"}}


def binary_responses(media_type: str = "application/octet-stream", *,
                     extra: Mapping[int | str, dict[str, Any]] | None = None) -> dict[int | str, Any]:
    """``responses=`` of a route that answers with bytes, not JSON (use with ``response_class=Response``);
    ``extra``: the entries of its other statuses."""
    return {200: {"description": "The file's content.", "content": {media_type: BINARY}}, **(extra or {})}


def error(description: str) -> dict[str, Any]:
    """A ``responses=`` entry of an error status in the API's one error shape."""
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def expected_errors(method: str, path: str, operation: dict) -> set[int]:
    has_body = "requestBody" in operation
    statuses = set()
    if has_body:
        statuses |= {400, 413}
    if (method, path) not in PUBLIC:
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if method in ("post", "put", "patch", "delete") and (method, path) not in PUBLIC:
        statuses.add(409)
    if has_body or operation.get("parameters"):
        statuses.add(422)
    return statuses | EXTRA.get((method, path), set())


def build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["Error"] = error_schema
    components["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "A token from POST /api/v1/auth/token, or a personal token (the “API tokens” page)."}}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(expected_errors(method, path, operation)):
                responses[str(status)] = error(DESCRIPTIONS[status])
            for status, response in responses.items():
                # Whatever status a route declared by hand, an error answer has the one error shape.
                if status[0] in "45" and "content" not in response:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
            if (method, path) not in PUBLIC:
                operation["security"] = [{"bearer": []}]
    health = schema.get("paths", {}).get("/healthz", {}).get("get")
    if health is not None:  # its 503 is the same report as its 200, naming the failing part
        health["responses"]["503"] = {"description": DESCRIPTIONS[503],
                                      "content": health["responses"]["200"]["content"]}
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema

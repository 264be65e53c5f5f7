"""Finding 9: the OpenAPI schema describes the API as it answers — the error shape, the error statuses of
each operation, binary downloads."""

from __future__ import annotations

from portal.errors import ErrorOut
from portal.validation import MAX_ID


def _schema(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    return r.json()


def _conforms(body: dict) -> None:
    """The body is an ``Error`` (the model the schema's Error component is generated from), strictly."""
    ErrorOut.model_validate(body, strict=True)
    assert isinstance(body["detail"], str)
    for item in body.get("errors") or []:
        assert set(item) <= {"field", "message", "label"} and isinstance(item["message"], str)


def test_error_shape_is_declared_and_is_what_422_answers(client, api, world):
    schema = _schema(client)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["detail"]["type"] == "string"
    assert error == {**ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}"), "$defs": None} \
        or error["required"] == ["detail"]
    declared = schema["paths"]["/api/v1/tickets"]["post"]["responses"]["422"]["content"]["application/json"]
    assert declared["schema"] == {"$ref": "#/components/schemas/Error"}
    r = api.post(world.ivanova, "/api/v1/tickets", json={"kind": "nonsense"})
    assert r.status_code == 422 and r.json()["errors"]
    _conforms(r.json())
    r = api.delete(world.ivanova, f"/api/v1/tokens/{MAX_ID + 1}")
    assert r.status_code == 422
    _conforms(r.json())
    r = api.get(world.ivanova, "/api/v1/packages/nothing-here")
    assert r.status_code == 404
    _conforms(r.json())


def test_every_operation_documents_its_error_statuses(client):
    schema = _schema(client)
    public = {("post", "/api/v1/auth/token"), ("get", "/api/v1/signing-key"), ("get", "/healthz")}
    for path, item in schema["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            where = f"{method.upper()} {path}"
            if (method, path) not in public:
                assert {"401", "403"} <= codes, where
                assert op["security"] == [{"bearer": []}], where
            if "{" in path:
                assert "404" in codes, where
            if method in ("post", "put", "delete") and (method, path) not in public:
                assert "409" in codes, where
            if "requestBody" in op:
                assert {"400", "413", "422"} <= codes, where
            for code, response in op["responses"].items():
                if code[0] == "4":
                    assert response["content"]["application/json"]["schema"] == \
                        {"$ref": "#/components/schemas/Error"}, (where, code)


def test_downloads_and_the_signing_key_are_not_json(client):
    paths = _schema(client)["paths"]
    binary = {"schema": {"type": "string", "format": "binary"}}
    for path in ("/api/v1/packages/{package_id}/files/{name}", "/api/v1/packages/{package_id}/files/{name}/signature",
                 "/api/v1/tickets/{ticket_id}/attachments/{attachment_id}"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert content == {"application/octet-stream": binary}, path
    assert "206" in paths["/api/v1/packages/{package_id}/files/{name}"]["get"]["responses"]
    key = paths["/api/v1/signing-key"]["get"]["responses"]["200"]["content"]
    assert list(key) == ["application/x-pem-file"]
    sha = paths["/api/v1/packages/{package_id}/files/{name}/sha256"]["get"]["responses"]["200"]["content"]
    assert list(sha) == ["text/plain"]
    upload = paths["/api/v1/packages"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]

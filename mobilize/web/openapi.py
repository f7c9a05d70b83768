"""What the OpenAPI document says beyond what APIFlask writes from the schemas, so that it tells the truth
about every operation:

- a request body is required when its schema has required fields (without a body the request is a 422);
- an operation with a JSON body can answer 400, when the body is not JSON at all (the 422 is for JSON that the
  schema refuses); the 400 has the same error body;
- an `<int:...>` path parameter is a row id from 1 to the databases' largest integer (RowIdConverter): the
  document gives that range.

The statuses a view itself can return (403, 404, 409, 422) are documented on each view with `@api.doc`.
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from mobilize.web.converters import DATABASE_INT_MAX, FIRST_ID

JSON = "application/json"
NOT_JSON_DESCRIPTION = "The request body is not JSON."


def register(app: Flask) -> None:
    @app.spec_processor
    def tell_the_truth(spec: dict[str, Any]) -> dict[str, Any]:
        schemas = spec.get("components", {}).get("schemas", {})
        for operation in _operations(spec):
            _require_body_with_required_fields(operation, schemas)
            _document_bad_json(operation)
            _bound_row_ids(operation)
        return spec


def _operations(spec: dict[str, Any]):
    for path_item in spec.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                yield operation


def _require_body_with_required_fields(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    body = operation.get("requestBody")
    if not body:
        return
    schema = body.get("content", {}).get(JSON, {}).get("schema", {})
    if _resolve(schema, schemas).get("required"):
        body["required"] = True


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    reference = schema.get("$ref", "")
    if reference.startswith("#/components/schemas/"):
        return schemas.get(reference.rsplit("/", 1)[1], {})
    return schema


def _document_bad_json(operation: dict[str, Any]) -> None:
    if JSON not in operation.get("requestBody", {}).get("content", {}):
        return
    refused = operation["responses"].get("422")  # APIFlask documents it for every body: the same error format
    if refused is not None:
        operation["responses"].setdefault("400", {**refused, "description": NOT_JSON_DESCRIPTION})


def _bound_row_ids(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") == "path" and schema.get("type") == "integer":
            schema.update(minimum=FIRST_ID, maximum=DATABASE_INT_MAX)

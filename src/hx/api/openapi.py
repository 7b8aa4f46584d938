"""The OpenAPI document, made to say what the server does.

FastAPI's generated document is completed in one pass over every operation, so a route added later is described
the same way without doing anything:

- every error is ``application/problem+json`` with the :data:`PROBLEM_SCHEMA` the server sends (422 included,
  instead of FastAPI's ``HTTPValidationError``), and each operation lists the error statuses it can answer:
  422 everywhere (the boundary checks the path and query of every request), and for ``/api/v1`` routes and the
  inbound webhooks under ``/hooks`` (signed, not token-bearing) 401, 403, 404 and 409, plus 413 where a body is read;
- ``/api/v1`` operations declare the Bearer security scheme and the least role their token needs (from
  :data:`hx.api.auth.ROUTE_ROLES`): ``x-hx-role``, and a line of the description;
- every integer and number schema without a bound gets the 64-bit bounds the boundary enforces
  (:mod:`hx.api.boundary`).

A route whose success answer is not JSON declares it with ``response_class`` and :func:`text_response`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from hx.api.auth import ROUTE_ROLES
from hx.api.boundary import INT_MAX, INT_MIN

PROBLEM_MEDIA = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; 422 names the field (and lists every error found)",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "field": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "in", "message"],
                "properties": {"field": {"type": "string"}, "in": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_DESCRIPTIONS = {
    401: "no valid Bearer token",
    403: "the token's role may not call this route",
    404: "not found",
    409: "conflicts with the current state",
    413: "the body is over the limit",
    422: "invalid input (names the field)",
    503: "a dependency is down",
}
API_ERRORS = (401, 403, 404, 409, 422)
BODY_METHODS = {"post", "put", "patch"}


def problem_response(status: int) -> dict[str, Any]:
    return {"description": _DESCRIPTIONS.get(status, "error"), "content": {PROBLEM_MEDIA: {"schema": PROBLEM_REF}}}


def text_response(media_type: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose success answer is text of ``media_type``."""
    return {status: {"description": "OK", "content": {media_type: {"schema": {"type": "string"}}}}}


SSE_EVENT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "event": {"type": "string"}, "data": {"type": "string"}},
}


def sse_response() -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a server-sent events stream (each event: ``id``, ``event``, ``data``)."""
    return {200: {"description": "server-sent events", "content": {"text/event-stream": {"schema": SSE_EVENT}}}}


#: schemas the bodies of :func:`json_body` refer to, added to the document's components by :func:`document`
BODY_SCHEMAS: dict[str, dict[str, Any]] = {}


def component(model: type[BaseModel]) -> dict[str, str]:
    """A reference to ``model``'s schema, added (with the models it nests) to the document's components."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    BODY_SCHEMAS.update(schema.pop("$defs", {}))
    BODY_SCHEMAS[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_body(schema: dict[str, Any] | type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra=`` for a route that reads its JSON body itself (no pydantic parameter declares it): a JSON
    schema, or the pydantic model the route parses the body with (see :func:`component`)."""
    body = component(schema) if isinstance(schema, type) else schema
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}


HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "the store is down", "content": {"application/json": {"schema": {"type": "object"}}}}
}


def document(app: FastAPI) -> dict[str, Any]:
    """The completed OpenAPI document of ``app`` (see the module docstring)."""
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for name, body in BODY_SCHEMAS.items():
        schemas.setdefault(name, body)
    spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            _complete(path, method, op)
    _bound_numbers(spec)
    return spec


def _complete(path: str, method: str, op: dict[str, Any]) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    statuses = {422}
    if path.startswith("/api/v1/"):
        statuses.update(API_ERRORS)
        op["security"] = [{"bearer": []}]
        role = ROUTE_ROLES.get((method.upper(), path))
        if role is not None:
            op["x-hx-role"] = role.value
            line = f"Needs a token of the {role.value} role or above."
            op["description"] = f"{op['description'].rstrip()}\n\n{line}" if op.get("description") else line
        if method in BODY_METHODS:
            statuses.add(413)
    elif path.startswith("/hooks/"):  # inbound webhooks: authenticated by their signature, not a token
        statuses.update({401, 403, 404, 409})
        if method in BODY_METHODS:
            statuses.add(413)
    for status in statuses:
        responses[str(status)] = problem_response(status)
    for code, response in responses.items():
        if code.startswith("2") and code != "204" and not response.get("content"):
            response["content"] = {"application/json": {"schema": {}}}
        if code == "204":
            response.pop("content", None)


def _bound_numbers(node: Any) -> None:
    """Give every unbounded integer/number schema the 64-bit bounds the boundary enforces."""
    if isinstance(node, list):
        for item in node:
            _bound_numbers(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") in ("integer", "number"):
        if "minimum" not in node and "exclusiveMinimum" not in node:
            node["minimum"] = INT_MIN
        if "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = INT_MAX
    for value in node.values():
        _bound_numbers(value)


def install(app: FastAPI) -> None:
    """Serve :func:`document` (built once, after every router is included) as ``/openapi.json``."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cache:
            cache.update(document(app))
        return cache

    app.openapi = openapi  # type: ignore[method-assign]

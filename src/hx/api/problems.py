"""Errors as ``application/problem+json`` (RFC 9457), naming the field or cause."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from hx.api.responses import SafeJSONResponse
from hx.errors import HxError, validation_message

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    return SafeJSONResponse(body, status_code=status, media_type=PROBLEM, headers=sent or None)


def error_response(exc: HxError, where: str | None = None) -> JSONResponse:
    """The problem document of an :class:`HxError` (its data as extension members, the field named, and where it
    is: the error's own ``location``, else ``where``, else the body)."""
    extra: dict[str, Any] = {
        k: v for k, v in exc.data.items() if isinstance(v, str | int | float | bool | list) or v is None
    }
    where = extra.pop("location", None) or where or "body"
    if exc.status == 422 and "errors" not in extra and isinstance(extra.get("field"), str):
        extra["errors"] = [{"field": extra["field"], "in": where, "message": exc.message}]
    return problem(exc.status, exc.title, exc.message, **extra)


async def _hx_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HxError):
        raise exc
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return error_response(exc, _parameter_of(request, exc.data.get("field")))


def _parameter_of(request: Request, field: object) -> str | None:
    """``query`` or ``path`` when ``field`` names one of the matched route's parameters (a route's own check of
    ``since`` or ``model`` said ``in: body``)."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or not isinstance(field, str):
        return None
    for where, params in (("query", dependant.query_params), ("path", dependant.path_params)):
        if any(p.alias == field for p in params):
            return where
    return None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        if e["type"] == "json_invalid":  # loc is ("body", character offset): name the body, say where
            at = f" at character {loc[1]}" if len(loc) > 1 else ""
            why = (e.get("ctx") or {}).get("error", e["msg"])
            errors.append({"field": "body", "in": "body", "message": f"not valid JSON{at}: {why}"})
            continue
        field = ".".join(loc[1:] if loc and loc[0] in {"body", "query", "path", "header"} else loc)
        msg = validation_message(e)
        errors.append({"field": field or loc[0] if loc else "", "in": loc[0] if loc else "", "message": msg})
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return problem(422, "invalid input", detail, field=first["field"], errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    headers = dict(exc.headers or {})
    if exc.status_code == 400:  # the form parser's refusal (multipart without a boundary, a broken part)
        why = str(exc.detail)
        return problem(422, "invalid input", f"body: {why}", field="body",
                       errors=[{"field": "body", "in": "body", "message": why}])  # fmt: skip
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem(exc.status_code, _phrase(exc.status_code), str(exc.detail), headers=headers)


def _phrase(status: int) -> str:
    """The status's reason phrase as a problem title (``not found``), else ``error``."""
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug, still as problem+json; Starlette re-raises it after this response, so the server logs its
    traceback (nothing is swallowed)."""
    log.error("%s %s failed unexpectedly: %r", request.method, request.url.path, exc)
    detail = f"an unexpected {type(exc).__name__}; the server log has its traceback"
    return problem(500, "internal error", detail)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(HxError, _hx_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

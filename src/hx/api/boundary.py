"""What every request must be before a route sees it: text, numbers and sizes at the boundary.

The rules, the same on every route (a route added later gets them without doing anything):

- **text** is Unicode scalar values without NUL: a lone surrogate (``"\\ud800"``), bytes that are not UTF-8, or
  ``\\u0000`` in any JSON string or key, in a query parameter or in the path is refused with 422 problem+json naming
  the field (``alerts.0.labels.service`` in the body, ``service`` in the query, the path);
- **numbers** fit a 64-bit integer: integers in ``[-2^63, 2^63 - 1]``, floats finite and inside the same range;
  a JSON number outside, ``NaN``/``Infinity``, or a 5,000-digit literal is 422 naming the field;
- **nesting** is at most :data:`MAX_DEPTH` levels deep (a deeper body is 422, never a stack overflow).

:class:`BoundaryMiddleware` applies them; :func:`check_params` applies the number rule to the declared integer and
float query and path parameters of the matched route (called by :func:`hx.api.auth.authorize`); and
:func:`hx.api.openapi.document` writes the same bounds into the OpenAPI document, so the schema and the server agree.

>>> parse_json(b'{"a": [1, 2.5, "x"]}')
{'a': [1, 2.5, 'x']}
>>> try:
...     parse_json(b'{"alerts": [{"labels": {"service": "\\\\ud800"}}]}')
... except BadInput as err:
...     print(err.field)
alerts.0.labels.service
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, get_args
from urllib.parse import unquote_to_bytes

from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import AwareDatetime

from hx.errors import BadInput

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
#: deepest JSON nesting a body may have
MAX_DEPTH = 64
#: an integer literal longer than this is out of range whatever its digits
_MAX_INT_CHARS = 20
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class _Refused:
    """A number the parser refused; the walk reports it with its field path."""

    def __init__(self, why: str) -> None:
        self.why = why


def _parse_int(text: str) -> int | _Refused:
    if len(text) > _MAX_INT_CHARS or not INT_MIN <= (value := int(text)) <= INT_MAX:
        return _Refused(f"integer out of range (at most {INT_MAX} in magnitude)")
    return value


def _parse_float(text: str) -> float | _Refused:
    value = float(text)
    if not in_range(value):
        return _Refused(f"number out of range (finite, at most {INT_MAX} in magnitude)")
    return value


def _parse_constant(text: str) -> _Refused:
    return _Refused(f"{text} is not a number JSON allows")


def in_range(value: float) -> bool:
    """Finite and within the 64-bit integer range (the bound of every number hx reads)."""
    return math.isfinite(value) and INT_MIN <= value <= INT_MAX


def text_problem(text: str) -> str | None:
    """Why ``text`` is not acceptable text, or ``None``."""
    bad = _NOT_TEXT.search(text)
    if bad is None:
        return None
    char = bad.group()
    return "NUL is not allowed in text" if char == "\x00" else f"lone surrogate U+{ord(char):04X} is not Unicode text"


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``, or :class:`BadInput` naming the field that breaks a rule of this module.

    A body that is not JSON at all raises :class:`json.JSONDecodeError` (the route says why, as it always has)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInput(f"the body is not UTF-8 at byte {err.start}", field="body") from err
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError as err:
        raise BadInput(f"the body is nested more than {MAX_DEPTH} levels deep", field="body") from err
    check_value(value)
    return value


def check_value(value: Any) -> None:
    """Walk a parsed JSON value (without recursion); :class:`BadInput` naming the first bad field."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise BadInput(f"nested more than {MAX_DEPTH} levels deep", field=_field(path))
        if isinstance(node, dict):
            for key, item in node.items():
                _check_text(key, (*path, key))
                stack.append((item, (*path, key)))
        elif isinstance(node, list):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(node))
        elif isinstance(node, str):
            _check_text(node, path)
        elif isinstance(node, _Refused):
            raise BadInput(f"{_field(path)}: {node.why}", field=_field(path))


def _field(path: tuple[str, ...]) -> str:
    return ".".join(safe_text(p) for p in path) or "body"


def safe_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (for naming a field or a path)."""
    return _NOT_TEXT.sub("\ufffd", text)


def _check_text(text: str, path: tuple[str, ...]) -> None:
    why = text_problem(text)
    if why is not None:
        raise BadInput(f"{_field(path)}: {why}", field=_field(path))


def check_query(query_string: bytes) -> None:
    """Every name and value of a raw query string is UTF-8 text without NUL (else 422 ``query.<name>``)."""
    for pair in query_string.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = _decode_component(raw_name, "query", "query")
        _decode_component(raw_value, name, "query")


def check_path(raw_path: bytes) -> None:
    """The percent-decoded path is UTF-8 text without NUL (else 422 ``path``)."""
    _decode_component(raw_path, "path", "path", plus=False)


def _decode_component(raw: bytes, field: str, location: str, plus: bool = True) -> str:
    data = unquote_to_bytes(raw.replace(b"+", b" ") if plus else raw)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        why = f"not UTF-8 text (byte {err.start} after percent-decoding)"
        raise BadInput(f"{location} {field}: {why}", field=field, location=location) from err
    problem = text_problem(text)
    if problem is not None:
        raise BadInput(f"{location} {safe_text(field)}: {problem}", field=safe_text(field), location=location)
    return text


def check_number(raw: str, kinds: Iterable[type], field: str, location: str) -> None:
    """A query or path parameter declared as an integer or a number stays within :func:`in_range`.

    Text that does not parse is left to the route's own validation (it answers 422 naming the field)."""
    try:
        value: float = int(raw) if int in kinds and float not in kinds else float(raw)
    except ValueError:
        return
    if not in_range(value):
        why = f"number out of range (finite, at most {INT_MAX} in magnitude)"
        raise BadInput(f"{location} {field}: {why}", field=field, location=location)


def check_params(request: Request) -> None:
    """The number rule for the integer and float query and path parameters the matched route declares."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    for param in route.dependant.path_params:
        kinds = _kinds(param.field_info.annotation)
        if kinds and param.alias in request.path_params:
            _check_param(str(request.path_params[param.alias]), kinds, param.alias, "path")
    for param in route.dependant.query_params:
        kinds = _kinds(param.field_info.annotation)
        for raw in request.query_params.getlist(param.alias) if kinds else ():
            _check_param(raw, kinds, param.alias, "query")


def _check_param(raw: str, kinds: set[type], field: str, location: str) -> None:
    if datetime in kinds:
        check_timestamp(raw, field, location)
    else:
        check_number(raw, kinds, field, location)


def check_timestamp(raw: str, field: str, location: str) -> None:
    """A date-time parameter is ISO 8601 text (as the OpenAPI document says), not a bare number."""
    try:
        datetime.fromisoformat(raw)
    except ValueError as err:
        why = f"{raw[:40]!r} is not an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)"
        raise BadInput(f"{location} {field}: {why}", field=field, location=location) from err


def _kinds(annotation: Any) -> set[type]:
    """Which of int, float and datetime ``annotation`` is, looking inside ``X | None`` and ``list[X]``."""
    if annotation is bool:
        return set()
    if annotation in (int, float, datetime):
        return {annotation}
    if annotation is AwareDatetime:  # pydantic's marker for a datetime with a zone (hx.api.schemas.Instant)
        return {datetime}
    found: set[type] = set()
    for arg in get_args(annotation):
        found |= _kinds(arg)
    return found

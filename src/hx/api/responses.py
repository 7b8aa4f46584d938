r"""JSON out, defensively: a value the store already holds never turns a read into a 500.

Text that is not Unicode scalar values (a lone surrogate, stored before the boundary refused them) is escaped as
the visible ``\udXXX``; a float that is not finite becomes ``null``.  Every JSON response of the API (the routes'
default class and the problem documents) and the event stream go through :func:`safe_dumps`.

>>> safe_dumps({"label": "a\ud800b", "ratio": float("inf")})
'{"label":"a\\\\ud800b","ratio":null}'
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from hx.jsontext import scrub


def safe_dumps(value: Any) -> str:
    """Compact JSON text that always encodes as UTF-8 (see the module docstring)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        text.encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        text = json.dumps(scrub(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text


class SafeJSONResponse(JSONResponse):
    """The API's JSON response: :func:`safe_dumps` instead of a bare ``json.dumps``."""

    def render(self, content: Any) -> bytes:
        return safe_dumps(content).encode("utf-8")

r"""JSON text that is always valid JSON, pure: what the API's responses and the CLI's ``--json`` print.

Text that is not Unicode scalar values (a lone surrogate) is escaped as its visible code (``\ud800``); a float
that is not finite becomes ``null`` (``NaN`` and ``Infinity`` are not JSON: a strict reader refuses the whole
document).

>>> scrub({"label": "a\ud800b", "ratio": float("inf"), "n": [1.5, float("nan")]})
{'label': 'a\\ud800b', 'ratio': None, 'n': [1.5, None]}
"""

from __future__ import annotations

import math
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(text: str) -> str:
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def scrub(value: Any) -> Any:
    """``value`` with surrogates in every string (keys too) escaped and non-finite floats as ``None``."""
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value

"""``Ctx.emit`` with ``--json``: strict JSON on stdout, whatever the numbers."""

from __future__ import annotations

import json
import math

import pytest

from hx.cli.session import Ctx


def test_json_output_has_no_nan_or_infinity(capsys: pytest.CaptureFixture[str]) -> None:
    # json.dumps wrote NaN and Infinity, which no strict JSON reader takes: the whole document was refused
    Ctx(as_json=True).emit({"saving": math.inf, "rows": [1.5, math.nan], "note": "ok"})
    out = capsys.readouterr().out

    def strict(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    assert json.loads(out, parse_constant=strict) == {"saving": None, "rows": [1.5, None], "note": "ok"}

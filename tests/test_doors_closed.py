"""The doors between engines stay closed: improve sees only the learner protocol, heal asks deploy by event,
the scaler reads the ownership lease (walked over every import, top-level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "hx"


def imports_of(package: str) -> set[str]:
    found: set[str] = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize(
    ("package", "closed"),
    [("improve", ("hx.deploy", "hx.heal")), ("heal", ("hx.deploy",)), ("forecast", ("hx.deploy",))],
)
def test_an_engine_does_not_import_the_engines_it_talks_to(package: str, closed: tuple[str, ...]) -> None:
    bad = sorted(m for m in imports_of(package) if m.startswith(closed))
    assert not bad, f"hx.{package} imports {bad}"

"""The engines stand side by side on one floor: no engine package imports the simulator, the wiring, the lab, the
demo or another engine package.  Every import is read from the source (ast), function-level and ``TYPE_CHECKING``
imports included, so a lazy import is no way round the rule."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ENGINES = ("detect", "deploy", "heal", "forecast", "scale", "cost", "cloud", "improve")
ABOVE = ("sim", "wiring", "lab", "demo")  # worlds and the layers that assemble or drive the engines

#: Engine -> engine imports that are part of the design, not a door between engines: the scaler is built on the
#: forecaster family (hx.forecast runs no engine of its own; it is a library the scaler and the detectors use).
LIBRARY_USES: frozenset[tuple[str, str]] = frozenset({("scale", "forecast")})


def _modules() -> Iterator[tuple[str, Path]]:
    for engine in ENGINES:
        for path in sorted((SRC / "hx" / engine).rglob("*.py")):
            parts = path.relative_to(SRC).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(absolute module name, line) of every import in a file, wherever it stands in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # ``from hx import sim`` imports hx.sim
                yield f"{base}.{alias.name}", node.lineno


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "hx" else None


def crossings() -> dict[tuple[str, str], list[str]]:
    """(engine, imported hx package) -> where, for every import that leaves the engine's own package."""
    found: dict[tuple[str, str], list[str]] = {}
    for module, path in _modules():
        own = module.split(".")[1]
        for name, line in imported(module, path):
            target = layer_of(name)
            if target is not None and target != own and (target in ENGINES or target in ABOVE):
                found.setdefault((own, target), []).append(f"{path.relative_to(SRC)}:{line} imports {name}")
    return found


def test_the_walker_sees_function_level_relative_and_from_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from hx.sim import Fault\n    from .. import wiring\n\nfrom hx import lab\n")
    names = {n for n, _ in imported("hx.heal.x.m", f)}
    assert {"hx.sim.Fault", "hx.heal.wiring", "hx.lab"} <= names
    assert layer_of("hx.sim.Fault") == "sim" and layer_of("numpy") is None


def test_no_engine_imports_the_sim_the_wiring_the_lab_or_the_demo() -> None:
    found = {pair: where for pair, where in crossings().items() if pair[1] in ABOVE}
    assert found == {}, "\n".join(w for ws in found.values() for w in ws)


def test_no_engine_imports_another_engine_beyond_the_listed_pairs() -> None:
    found = {pair: where for pair, where in crossings().items() if pair[1] in ENGINES}
    unexpected = {pair: where for pair, where in found.items() if pair not in LIBRARY_USES}
    assert unexpected == {}, "\n".join(w for ws in unexpected.values() for w in ws)


@pytest.mark.parametrize("pair", sorted(LIBRARY_USES))
def test_every_listed_pair_still_exists(pair: tuple[str, str]) -> None:
    assert pair in crossings(), f"{pair[0]} no longer imports {pair[1]}: remove the pair from the list"

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


def _all_modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "hx").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """hx module -> the hx modules it imports (a ``from m import name`` names m, or m.name when that is a module).

    A package's ``__init__`` that only re-exports (imports, a docstring, ``__all__``) is left out as a target:
    importing ``hx.events.X`` runs it, but the arrow that matters is to the module defining ``X``.  An ``__init__``
    that defines code of its own is a module like any other."""
    modules = _all_modules()
    faces = {m for m, path in modules.items() if path.name == "__init__.py" and _only_reexports(path)}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name, _line in imported(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module and name not in faces:
                targets.add(name)
        graph[module] = targets
    return graph


def _only_reexports(path: Path) -> bool:
    def plain(node: ast.stmt) -> bool:
        if isinstance(node, ast.Import | ast.ImportFrom):
            return True
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return True  # the docstring
        targets = node.targets if isinstance(node, ast.Assign) else []
        return bool(targets) and all(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)

    return all(plain(n) for n in ast.parse(path.read_text(encoding="utf-8")).body)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle_and_only_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_round_a_cycle() -> None:
    """Every import counts, lazy and ``TYPE_CHECKING`` ones too: a cycle hidden behind one is still two modules that
    cannot be understood (or tested) apart."""
    found = cycles(import_graph())
    assert found == [], "\n".join(" <-> ".join(c) for c in found)

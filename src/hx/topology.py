"""The call graph of the watched services, as a provider engines read from the platform.

Heal groups alerts of neighbouring services into one incident, picks the focus service and holds back
remediation of a caller whose callee alerts: all from ``platform.topology``.  The embedded simulator
provides its own graph (built in :mod:`hx.wiring`); against a real fleet the graph comes from
configuration: ``topology.edges`` inline and/or ``topology.file``, a YAML or JSON mapping of
caller -> [callees].

>>> topo = StaticTopology({"frontend": ["api"], "api": ["db", "cache"]})
>>> topo.callees("api"), topo.callers("api")
(('db', 'cache'), ('frontend',))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import yaml

from hx.errors import ConfigError

if TYPE_CHECKING:
    from hx.config import Settings

Edges = Mapping[str, tuple[str, ...]]


class Topology(Protocol):
    """Who calls whom: ``edges()`` is ``{caller: (callees, ...)}``."""

    def edges(self) -> Edges: ...

    def callees(self, service: str) -> tuple[str, ...]: ...

    def callers(self, service: str) -> tuple[str, ...]: ...


class StaticTopology:
    """A fixed call graph (from configuration, or a snapshot of a known fleet); empty when nothing is known."""

    def __init__(self, edges: Mapping[str, Iterable[str]] | None = None) -> None:
        self._edges: dict[str, tuple[str, ...]] = {k: tuple(dict.fromkeys(v)) for k, v in (edges or {}).items()}

    def edges(self) -> Edges:
        return self._edges

    def callees(self, service: str) -> tuple[str, ...]:
        return self._edges.get(service, ())

    def callers(self, service: str) -> tuple[str, ...]:
        return tuple(sorted(caller for caller, callees in self._edges.items() if service in callees))


def check_edges(raw: object, key: str, file: str | None = None) -> dict[str, list[str]]:
    """``{caller: [callees]}`` from parsed YAML/JSON, or a ConfigError naming the key (and file)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"not a mapping but {type(raw).__name__}", file=file, key=key, expected="caller: [callees]")
    out: dict[str, list[str]] = {}
    for caller, callees in raw.items():
        if not isinstance(caller, str) or not caller:
            raise ConfigError(f"caller {caller!r} is not a service name", file=file, key=key)
        if isinstance(callees, str) or not isinstance(callees, list):
            raise ConfigError("callees are not a list", file=file, key=f"{key}.{caller}", expected="a list of names")
        bad = [c for c in callees if not isinstance(c, str) or not c or c == caller]
        if bad:
            raise ConfigError(f"bad callee(s) {bad!r}", file=file, key=f"{key}.{caller}", expected="other services")
        out[caller] = list(callees)
    return out


def load_edges_file(path: Path) -> dict[str, list[str]]:
    """The caller -> callees mapping of a YAML or JSON file (JSON is YAML)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}", key="topology.file") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not YAML/JSON: {err}", key="topology.file") from err
    return check_edges(raw, "topology.file", str(path))


def topology_from_settings(settings: Settings) -> StaticTopology:
    """The configured graph: the file's edges, then ``topology.edges`` (a caller in both: inline wins)."""
    cfg = settings.topology
    edges = load_edges_file(Path(cfg.file).expanduser()) if cfg.file else {}
    edges.update(check_edges(cfg.edges, "topology.edges"))
    return StaticTopology(edges)

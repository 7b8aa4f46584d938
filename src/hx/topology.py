"""The call graph of the watched services, as a provider engines read from the platform.

Heal groups alerts of neighbouring services into one incident, picks the focus service and holds back
remediation of a caller whose callee alerts: all from ``platform.topology``.  The embedded simulator
provides its own graph (built in :mod:`hx.wiring`); against a real fleet the graph comes from
configuration: ``topology.edges`` inline and/or ``topology.file``, a YAML or JSON mapping of
caller -> [callees], and from metrics that carry caller and callee labels (``topology.metrics``: a preset of
:data:`METRIC_PRESETS` or a metric with its two labels), read through the signal source and refreshed every
``refresh_s`` (:class:`MetricsTopology`).

>>> topo = StaticTopology({"frontend": ["api"], "api": ["db", "cache"]})
>>> topo.callees("api"), topo.callers("api")
(('db', 'cache'), ('frontend',))
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import yaml

from hx.errors import ConfigError, HxError
from hx.telemetry.base import SourceCapability, edges_of, supports

if TYPE_CHECKING:
    from hx.config import Settings, TopologyMetricsSettings
    from hx.telemetry.base import SignalSource

log = logging.getLogger(__name__)

Edges = Mapping[str, tuple[str, ...]]


class Topology(Protocol):
    """Who calls whom: ``edges()`` is ``{caller: (callees, ...)}``."""

    def edges(self) -> Edges: ...

    def callees(self, service: str) -> tuple[str, ...]: ...

    def callers(self, service: str) -> tuple[str, ...]: ...


class StaticTopology:
    """A fixed call graph (from configuration, or a snapshot of a known fleet); empty when nothing is known."""

    def __init__(self, edges: Mapping[str, Iterable[str]] | None = None, *, described: str = "configuration") -> None:
        self._edges: dict[str, tuple[str, ...]] = {k: tuple(dict.fromkeys(v)) for k, v in (edges or {}).items()}
        self.described = described

    def edges(self) -> Edges:
        return self._edges

    def callees(self, service: str) -> tuple[str, ...]:
        return self._edges.get(service, ())

    def callers(self, service: str) -> tuple[str, ...]:
        return tuple(sorted(caller for caller, callees in self._edges.items() if service in callees))


@dataclass(frozen=True)
class EdgeMetric:
    """A metric whose series name a caller and a callee in two labels."""

    metric: str
    caller_label: str
    callee_label: str


#: caller -> callee metrics of common meshes and tracers, by preset name
METRIC_PRESETS: Mapping[str, EdgeMetric] = {
    "istio": EdgeMetric("istio_requests_total", "source_workload", "destination_workload"),
    "otel-servicegraph": EdgeMetric("traces_service_graph_request_total", "client", "server"),
    "http-client": EdgeMetric("http_client_request_duration_seconds_count", "service_name", "peer_service"),
}


class MetricsTopology:
    """The call graph read from metrics (``read()`` gives caller -> callees), over a static graph.

    Edges are read again once ``refresh_s`` has passed; a failed read keeps the last graph and is kept in
    ``last_error`` (``hx telemetry check`` shows it).  A caller in the static graph keeps its configured callees and
    gains those seen in the metrics.

    >>> topo = MetricsTopology(lambda: {"web": ["api"]}, static=StaticTopology({"api": ["db"]}))
    >>> dict(topo.edges()), topo.callers("api")
    ({'api': ('db',), 'web': ('api',)}, ('web',))
    """

    def __init__(
        self,
        read: Callable[[], Mapping[str, Iterable[str]]],
        *,
        static: StaticTopology | None = None,
        refresh_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        described: str = "metrics",
    ) -> None:
        self._read = read
        self._static = static or StaticTopology()
        self._refresh_s = refresh_s
        self._monotonic = monotonic
        self._read_at: float | None = None
        self._graph = StaticTopology(self._static.edges())
        self.last_error: str | None = None
        self.described = described

    def _current(self) -> StaticTopology:
        now = self._monotonic()
        if self._read_at is None or now - self._read_at >= self._refresh_s:
            self._read_at = now
            try:
                seen = {k: list(v) for k, v in self._read().items()}
            except HxError as err:
                self.last_error = str(err)
                log.warning("topology: cannot read the call graph from %s: %s", self.described, err)
                return self._graph
            self.last_error = None
            merged = {k: list(v) for k, v in self._static.edges().items()}
            for caller, callees in seen.items():
                merged[caller] = [*merged.get(caller, []), *callees]
            self._graph = StaticTopology(merged)
        return self._graph

    def edges(self) -> Edges:
        return self._current().edges()

    def callees(self, service: str) -> tuple[str, ...]:
        return self._current().callees(service)

    def callers(self, service: str) -> tuple[str, ...]:
        return self._current().callers(service)


def edge_metric(cfg: TopologyMetricsSettings) -> EdgeMetric | None:
    """The configured caller -> callee metric (explicit keys over the preset's), or None when not configured."""
    base = METRIC_PRESETS[cfg.preset] if cfg.preset else None
    metric = cfg.metric or (base.metric if base else None)
    if metric is None:
        return None
    caller = cfg.caller_label or (base.caller_label if base else None)
    callee = cfg.callee_label or (base.callee_label if base else None)
    if not caller or not callee:
        raise ConfigError("caller_label and callee_label are needed with metric", key="topology.metrics")
    return EdgeMetric(metric, caller, callee)


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


def topology_from_settings(settings: Settings, source: SignalSource | None = None) -> Topology:
    """The configured graph: the file's edges, then ``topology.edges`` (a caller in both: inline wins), plus the
    edges of ``topology.metrics`` read through ``source`` when it can read them."""
    cfg = settings.topology
    edges = load_edges_file(Path(cfg.file).expanduser()) if cfg.file else {}
    edges.update(check_edges(cfg.edges, "topology.edges"))
    static = StaticTopology(edges)
    em = edge_metric(cfg.metrics)
    if em is None or source is None:
        return static
    if not supports(source, SourceCapability.CALL_GRAPH):
        log.warning("topology.metrics is set but %s cannot read edges; using the configured graph", type(source))
        return static
    reader = edges_of(source)
    window = cfg.metrics.window

    def read() -> dict[str, list[str]]:
        return reader.edges(em.metric, em.caller_label, em.callee_label, window)

    described = f"{em.metric} ({em.caller_label} -> {em.callee_label})"
    return MetricsTopology(read, static=static, refresh_s=cfg.metrics.refresh_s, described=described)

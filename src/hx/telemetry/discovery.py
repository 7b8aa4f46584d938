"""What hx sees through its signal source: ``hx telemetry check`` and ``GET /api/v1/telemetry/check``.

For each discovered service: its versions and instances, and for every signal an enabled engine needs (and every
other signal the presets define): whether it resolves, the PromQL that ran, the last value and its age, and why not
(``no series`` when a metric is not scraped or the expression returns nothing, ``label missing`` when the metric
exists but not with the service's or the grouping's label, ``stale`` when the last value is too old).  The call
graph is shown too.  A signal a needed engine cannot read makes the report fail (``ok`` false, exit 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from hx.errors import HxError
from hx.telemetry.base import (
    SignalSource,
    SourceCapability,
    instances_of,
    supports,
    version_signals_of,
    versions_of,
)
from hx.telemetry.prometheus import PrometheusSource, escape_label_value
from hx.telemetry.promql import metric_names
from hx.topology import MetricsTopology, StaticTopology

if TYPE_CHECKING:
    from hx.config import Settings
    from hx.topology import Topology

#: the signals the canary judge reads per version (``hx.deploy.analysis.DEFAULT_JUDGE``: latency_p95, latency_p99,
#: and errors / requests from request_rate and error_rate); a test keeps the two in step
CANARY_SIGNALS: tuple[str, ...] = ("request_rate", "error_rate", "latency_p95", "latency_p99")
#: the signals the predictive scaler reads (demand, and the replica count it acts on)
SCALER_SIGNALS: tuple[str, ...] = ("request_rate", "replicas")
LOOKBACK = timedelta(minutes=30)
STEP_S = 15.0


@dataclass(frozen=True)
class Need:
    """A signal an enabled engine reads, per service or per version."""

    engine: str
    signal: str
    per: str = "service"


def needed_signals(settings: Settings) -> list[Need]:
    """What each enabled engine reads from the signal source."""
    im = settings.intelligent_monitoring
    needs: list[Need] = []
    if im.anomaly_detection.enabled:
        needs += [Need("anomaly-detector", s) for s in im.anomaly_detection.signals]
    if im.scaling.enabled:
        needs += [Need("predictive-scaler", s) for s in SCALER_SIGNALS]
    if settings.ai_orchestrator.enabled:
        needs += [Need("canary-analysis", s, "version") for s in CANARY_SIGNALS]
    return needs


@dataclass
class SignalRow:
    """One signal of one service (per service or per version): resolved or why not."""

    service: str
    signal: str
    per: str
    needed_by: list[str]
    resolves: bool = False
    status: str = "no series"
    promql: str | None = None
    origin: str | None = None
    last_value: float | None = None
    age_s: float | None = None
    series: int = 0
    why: str | None = None


@dataclass
class ServiceView:
    name: str
    versions: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class TelemetryReport:
    """The whole check: source, discovery, services, signal rows, topology; ``ok`` when every needed row resolves."""

    source: str
    checked_at: str
    discovery: dict[str, Any]
    presets: list[str]
    services: list[ServiceView]
    signals: list[SignalRow]
    topology: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        needed = [r for r in self.signals if r.needed_by]
        return not self.problems and bool(self.services) and all(r.resolves for r in needed)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check_telemetry(
    source: SignalSource,
    settings: Settings,
    now: datetime,
    *,
    topology: Topology | None = None,
    services: Sequence[str] | None = None,
    stale_after_s: float = 300.0,
) -> TelemetryReport:
    """Discover services and check every needed (and every defined) signal of each."""
    problems: list[str] = []
    try:
        found = list(services) if services else source.services()
    except HxError as err:
        found, problems = [], [f"cannot list services: {err}"]
    if not found and not problems:
        problems.append("no services discovered: check telemetry.prometheus.discovery (match, service_label)")
    views = [_view(source, s) for s in found]
    rows = [row for s in found for row in _rows(source, settings, s, now, stale_after_s)]
    prom = source if isinstance(source, PrometheusSource) else None
    return TelemetryReport(
        source=type(source).__name__,
        checked_at=now.isoformat(),
        discovery=asdict(prom.config.discovery) if prom else {},
        presets=_presets(settings) if prom else [],
        services=views,
        signals=rows,
        topology=topology_view(topology),
        problems=problems,
    )


def _presets(settings: Settings) -> list[str]:
    preset = settings.telemetry.prometheus.preset
    return [preset] if isinstance(preset, str) else list(preset)


def _view(source: SignalSource, service: str) -> ServiceView:
    view = ServiceView(service)
    try:
        if supports(source, SourceCapability.VERSIONS):
            view.versions = versions_of(source).versions(service)
        if supports(source, SourceCapability.INSTANCES):
            view.instances = instances_of(source).instances(service)
    except HxError as err:
        view.error = f"cannot list versions and instances: {err}"
    return view


def _rows(source: SignalSource, settings: Settings, service: str, now: datetime, stale_s: float) -> list[SignalRow]:
    needs = needed_signals(settings)
    defined = list(source.config.templates) if isinstance(source, PrometheusSource) else []
    keys: dict[tuple[str, str], list[str]] = {}
    for n in needs:
        keys.setdefault((n.signal, n.per), []).append(n.engine)
    for name in defined:
        keys.setdefault((name, "service"), [])
    return [
        _check_one(source, SignalRow(service, sig, per, engines), now, stale_s) for (sig, per), engines in keys.items()
    ]


def _check_one(source: SignalSource, row: SignalRow, now: datetime, stale_s: float) -> SignalRow:
    if isinstance(source, PrometheusSource):
        return _check_prometheus(source, row, now, stale_s)
    start = now - LOOKBACK
    try:
        if row.per == "version" and supports(source, SourceCapability.VERSION_SIGNAL):
            per = version_signals_of(source)
            got = [per.signal(row.service, row.signal, start, now, STEP_S, version=v) for v in _versions(source, row)]
        else:
            got = [source.signal(row.service, row.signal, start, now, STEP_S)]
    except HxError as err:
        row.status, row.why = "error", str(err)
        return row
    return _judge(row, [(s.timestamps, s.values) for s in got], now, stale_s)


def _versions(source: SignalSource, row: SignalRow) -> list[str]:
    return versions_of(source).versions(row.service) if supports(source, SourceCapability.VERSIONS) else []


def _check_prometheus(src: PrometheusSource, row: SignalRow, now: datetime, stale_s: float) -> SignalRow:
    templates = src.config.templates
    if row.signal not in templates:
        row.status, row.why = "not defined", f"no preset or template defines {row.signal!r}"
        return row
    row.promql = src.render(row.signal, row.service, by="version" if row.per == "version" else "")
    try:
        got = src.query(row.promql, now - LOOKBACK, now, STEP_S)
    except HxError as err:
        row.status, row.why = "error", str(err)
        return row
    if row.per == "version":
        label = src.grouping_label("version")
        missing = [s for s in got if label not in s.labels]
        if got and missing:
            row.status, row.why = "label missing", f"the series carry no {label!r} label"
            return row
    if not got:
        row.status, row.why = _diagnose(src, row)
        return row
    return _judge(row, [(s.timestamps, s.values) for s in got], now, stale_s)


def _judge(row: SignalRow, series: list[tuple[Any, Any]], now: datetime, stale_s: float) -> SignalRow:
    last_t, last_v = -math.inf, math.nan
    for ts, vs in series:
        ok = np.isfinite(vs)
        if ok.any() and float(ts[ok][-1]) > last_t:
            last_t, last_v = float(ts[ok][-1]), float(vs[ok][-1])
    row.series = len(series)
    if not math.isfinite(last_t):
        row.status, row.why = "no series", f"no finite value in the last {LOOKBACK.seconds // 60} min (NaN: 0/0?)"
        return row
    row.last_value, row.age_s = last_v, max(0.0, now.timestamp() - last_t)
    if row.age_s > stale_s:
        row.status, row.why = "stale", f"the last value is {row.age_s:.0f} s old (more than {stale_s:.0f} s)"
        return row
    row.resolves, row.status = True, "ok"
    return row


def _diagnose(src: PrometheusSource, row: SignalRow) -> tuple[str, str]:
    """Why a query returned nothing: a metric not scraped, a label missing, or the expression itself."""
    disc = src.config.discovery
    svc = escape_label_value(row.service)
    for metric in metric_names(row.promql or ""):
        if not _count(src, f'count({{__name__="{metric}"}})'):
            return "no series", f"metric {metric} is not scraped (no series at all)"
        if not _count(src, f'count({{__name__="{metric}",{disc.service_label}="{svc}"}})'):
            if not _count(src, f'count({{__name__="{metric}",{disc.service_label}!=""}})'):
                return "label missing", f"{metric} has no {disc.service_label!r} label"
            continue  # this alternative does not serve the service; another may
        if row.per == "version" and not _count(
            src, f'count({{__name__="{metric}",{disc.service_label}="{svc}",{disc.version_label}!=""}})'
        ):
            return "label missing", f"{metric} of {row.service} has no {disc.version_label!r} label"
        return "no series", f"{metric} exists for {row.service} but the expression returned nothing"
    return "no series", f"no metric of the expression has series with {disc.service_label}={row.service!r}"


def _count(src: PrometheusSource, promql: str) -> bool:
    try:
        return bool(src.instant_query(promql))
    except HxError:
        return False


def topology_view(topology: Topology | None) -> dict[str, Any]:
    """The call graph as the engines see it, with where it comes from and the last read error."""
    if topology is None:
        return {"source": "none", "edges": {}, "error": None}
    edges: Mapping[str, tuple[str, ...]] = topology.edges()
    view: dict[str, Any] = {"source": "configuration", "edges": {k: list(v) for k, v in edges.items() if v}}
    view["error"] = None
    if isinstance(topology, StaticTopology):
        view["source"] = topology.described
    if isinstance(topology, MetricsTopology):
        view.update(source=f"configuration + {topology.described}", error=topology.last_error)
    return view

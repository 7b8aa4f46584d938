"""Signal-source capabilities: declared as data, each backed by its method, checked in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from hx.config import PrometheusSettings
from hx.errors import Unsupported
from hx.sim import Simulation, make_fleet
from hx.sim.source import SimSource
from hx.telemetry.base import SignalSource, SourceCapability, instances_of, require, supports, versions_of
from hx.telemetry.prometheus import PrometheusSource
from hx.telemetry.replay import ReplaySource

#: the method each capability promises
METHOD = {
    SourceCapability.VERSIONS: "versions",
    SourceCapability.INSTANCES: "instances",
    SourceCapability.SIGNAL_BY: "signal_by",
    SourceCapability.VERSION_SIGNAL: "signal",
    SourceCapability.HEALTH: "health",
    SourceCapability.CALL_GRAPH: "edges",
}


def _sources(tmp_path: Path) -> list[SignalSource]:
    csv = tmp_path / "api.csv"
    csv.write_text("timestamp,cpu_utilization\n0,0.5\n")
    sim = Simulation(make_fleet(2, seed=3))
    return [SimSource(sim), PrometheusSource.from_settings(PrometheusSettings()), ReplaySource([csv])]


def test_every_declared_capability_has_its_method(tmp_path: Path) -> None:
    assert set(METHOD) == set(SourceCapability)
    for source in _sources(tmp_path):
        caps = source.capabilities()
        assert caps, type(source).__name__
        for cap in caps:
            assert callable(getattr(source, METHOD[cap], None)), (type(source).__name__, cap)


def test_require_names_the_source_and_the_missing_capability(tmp_path: Path) -> None:
    sim, prom, _ = _sources(tmp_path)
    assert supports(sim, SourceCapability.INSTANCES) and supports(prom, SourceCapability.INSTANCES)
    assert versions_of(sim).versions("frontend") == ["v1"]
    assert instances_of(sim).instances("frontend")
    require(prom, SourceCapability.HEALTH)
    with pytest.raises(Unsupported, match=r"SimSource cannot read caller -> callee edges .*\(CALL_GRAPH\)"):
        require(sim, SourceCapability.CALL_GRAPH)

"""The shipped signal-source contract (hx.telemetry.checks) over every source that runs without a server.

The Prometheus source runs the same checks in tests/integration/test_prometheus_source.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hx.checks import check_name
from hx.sim import Simulation
from hx.sim.source import SimSource
from hx.sim.spec import make_fleet
from hx.telemetry.base import Series, SignalSource, SourceCapability
from hx.telemetry.checks import Check, Probe, check_signal_source, yield_checks
from hx.telemetry.replay import ReplaySource

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def sim_source(tmp_path: Path) -> tuple[SignalSource, Probe]:
    sim = Simulation(make_fleet(3, seed=1, step_s=15.0), step_s=15.0)
    sim.run_until(sim.start + timedelta(minutes=30))
    return SimSource(sim), Probe(sim.names[0], "cpu_utilization", sim.start, sim.now, 60.0)


def replay_source(tmp_path: Path) -> tuple[SignalSource, Probe]:
    t0 = T0.timestamp()
    rows = [f"{t0 + 60 * i:.0f},api,request_rate,{100 + i}" for i in range(30) if i != 7]  # a missing minute
    path = tmp_path / "replay.csv"
    path.write_text("timestamp,service,signal,value\n" + "\n".join(rows) + "\n")
    return ReplaySource([path]), Probe("api", "request_rate", T0, T0 + timedelta(minutes=29), 60.0)


SOURCES: dict[str, Callable[[Path], tuple[SignalSource, Probe]]] = {"sim": sim_source, "replay": replay_source}
CASES = [(n, c) for n in SOURCES for c in yield_checks()]


@pytest.mark.parametrize(("name", "check"), CASES, ids=[f"{n}-{check_name(c)}" for n, c in CASES])
def test_contract(name: str, check: Check, tmp_path: Path) -> None:
    check(*SOURCES[name](tmp_path))


def test_a_missing_replay_minute_is_a_nan_on_the_grid(tmp_path: Path) -> None:
    source, p = replay_source(tmp_path)
    s = source.signal(p.service, p.signal, p.start, p.end, p.step)
    assert len(s) == 30 and np.isnan(s.values[7]) and np.isfinite(np.delete(s.values, 7)).all()


class Squeezing:
    """Drops the gaps instead of keeping them as NaN: the shipped contract must catch it."""

    def __init__(self, inner: SignalSource) -> None:
        self.inner = inner

    def capabilities(self) -> frozenset[SourceCapability]:
        return self.inner.capabilities()

    def services(self) -> list[str]:
        return self.inner.services()

    def signal(self, service: str, name: str, start: datetime, end: datetime, step: float) -> Series:
        s = self.inner.signal(service, name, start, end, step)
        keep = np.isfinite(s.values)
        return Series(s.name, s.timestamps[keep], s.values[keep], s.labels)

    def query(self, promql: str, start: datetime, end: datetime, step: float) -> list[Series]:
        return self.inner.query(promql, start, end, step)


def test_the_shipped_check_catches_a_source_that_drops_gaps(tmp_path: Path) -> None:
    source, probe = replay_source(tmp_path)
    with pytest.raises(AssertionError, match="points for a grid"):
        check_signal_source(Squeezing(source), probe)

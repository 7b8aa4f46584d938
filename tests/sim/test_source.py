from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pytest

from hx.errors import BadInput, NotFound, Unsupported
from hx.sim.engine import Simulation
from hx.sim.source import SimSource
from hx.telemetry.base import CANONICAL_SIGNALS, SignalSource

Make = Callable[..., Simulation]


def test_is_a_signal_source_with_every_canonical_signal(make_sim: Make) -> None:
    sim = make_sim()
    sim.run(steps=5)
    src: SignalSource = SimSource(sim)
    assert src.services() == ["edge", "web", "db"]
    for name in CANONICAL_SIGNALS:
        s = src.signal("web", name, sim.start, sim.now, 60.0)
        assert s.name == name and s.labels == {"service": "web"}
        assert not np.isnan(s.values[1:]).any()


def test_resamples_to_the_asked_step_with_nan_where_not_simulated(make_sim: Make) -> None:
    sim = make_sim(rate=100.0, step_s=15.0)
    sim.run(steps=8)  # two simulated minutes
    src = SimSource(sim)
    s = src.signal("web", "request_rate", sim.start - timedelta(minutes=1), sim.now + timedelta(minutes=2), 60.0)
    assert s.timestamps[1] - s.timestamps[0] == 60.0
    assert np.isnan(s.values[:2]).all()  # before the start
    assert s.values[2:4] == pytest.approx([100.0, 100.0])
    assert np.isnan(s.values[4:]).all()  # the future
    fine = src.signal("web", "request_rate", sim.start, sim.now, 5.0)
    assert len(fine) == 25 and fine.n_gaps == 3  # 5 s and 10 s after the start, and the start itself


def test_version_and_instance_series_carry_labels(make_sim: Make) -> None:
    sim = make_sim(rate=100.0, startup=0.0)
    sim.deploy("web", "v2", 1)
    sim.set_traffic_split("web", {"v1": 0.8, "v2": 0.2})
    sim.run(steps=3)
    src = SimSource(sim)
    by_version = src.signal_by_version("web", "request_rate", sim.start, sim.now, 60.0)
    assert {s.labels["version"]: s.last() for s in by_version} == pytest.approx({"v1": 80.0, "v2": 20.0})
    by_inst = src.signal_by_instance("web", "request_rate", sim.start, sim.now, 60.0)
    assert len(by_inst) == 5
    assert sum(s.last() or 0.0 for s in by_inst) == pytest.approx(100.0)
    assert all(s.labels["instance"].startswith("web-") for s in by_inst)


def test_errors_name_the_problem_and_list_valid_names(make_sim: Make) -> None:
    sim = make_sim()
    sim.step()
    src = SimSource(sim)
    with pytest.raises(NotFound, match="unknown service 'nope'; valid: edge, web, db"):
        src.signal("nope", "request_rate", sim.start, sim.now, 60)
    with pytest.raises(NotFound, match="unknown service signal 'latency'; valid: .*latency_p99"):
        src.signal("web", "latency", sim.start, sim.now, 60)
    with pytest.raises(NotFound, match="web-v1-1"):
        src.signal("web", "cpu_utilization", sim.start, sim.now, 60, instance="web-v1-99")
    with pytest.raises(BadInput):
        src.signal("web", "request_rate", datetime(2026, 1, 5), sim.now, 60)
    with pytest.raises(BadInput):
        src.signal("web", "request_rate", sim.now, sim.start, 60)
    with pytest.raises(BadInput):
        src.signal("web", "request_rate", sim.start, sim.now, 0)
    with pytest.raises(Unsupported):
        src.query("up", sim.start, sim.now, 60)
    assert "memory_utilization" in src.signal_names("instance")
    with pytest.raises(BadInput):
        src.signal_names("galaxy")

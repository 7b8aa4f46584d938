from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from hx.sim.engine import Simulation
from hx.sim.summary import replica_minutes, run_summary, slo_violation_minutes, sparkline


def test_run_summary_reports_every_service_and_the_faults() -> None:
    calls: list[tuple[int, int]] = []
    out = run_summary(days=2, services=3, seed=1, progress=lambda d, t: calls.append((d, t)), step_s=300.0)
    assert out["steps"] == 2 * 288 and calls[-1] == (576, 576)
    assert [s["service"] for s in out["per_service"]] == ["frontend", "api", "search"]
    for s in out["per_service"]:
        assert s["requests"] > 0 and s["peak_rps"] > 0
        assert 0 < s["mean_utilization"] <= s["peak_utilization"] <= 1
        assert s["slo_violation_minutes"] >= 0
    assert len(out["faults"]) == 2 and all(f["healed_at"] for f in out["faults"])
    again = run_summary(days=2, services=3, seed=1, step_s=300.0)
    assert again == out


def test_run_summary_without_faults_has_no_ground_truth() -> None:
    out = run_summary(days=1, services=2, seed=5, faults=False, step_s=600.0)
    assert out["faults"] == [] and all(s["faults"] == [] for s in out["per_service"])


def test_sparkline() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert len(sparkline(list(range(1000)), width=40)) == 40
    assert sparkline([math.nan, math.nan]) == "  "
    assert sparkline([]) == ""
    assert sparkline([2.0, 2.0]) == "▄▄"


def test_slo_violation_and_replica_minutes(make_sim: Callable[..., Simulation]) -> None:
    sim = make_sim(rate=100.0, step_s=30.0)
    sim.run(steps=4)
    assert slo_violation_minutes(sim) == 0.0
    assert replica_minutes(sim, ["web"]) == pytest.approx(4 * 2.0)
    sim.scale("web", 1)  # 100 rps on 50 rps of capacity
    sim.run(steps=6)
    assert slo_violation_minutes(sim, ["web"]) == pytest.approx(3.0)
    assert slo_violation_minutes(sim, ["web"], t_from=sim.t - 45) == pytest.approx(1.0)  # samples at t-30 and t

"""Root cause on heavy-tailed normal data: a sparse latency quantile with rare huge spikes beside a real CPU fault."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hx.heal.rca import rank_root_causes
from hx.heal.rca_kinds import fit_kind_weights, metric_family, metric_kind, service_score
from hx.heal.rca_onset import resolution, tail_spread

N_NORMAL, N_WINDOW, FAULT_AT, FAULT_LEN = 900, 30, 24, 4
GRAPH = {"frontend": ["cart", "payment", "email"], "cart": [], "payment": [], "email": []}


def _service(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "cpu": 0.7 + 0.05 * rng.standard_normal(n),
        "latency_p99": 0.05 + 0.002 * rng.standard_normal(n),
        "memory": 40 + 0.2 * rng.standard_normal(n),
    }


def _sparse(rng: np.random.Generator, n: int, spikes: np.ndarray = np.array([], dtype=int)) -> np.ndarray:
    """About 5 ms nearly always (exactly 5 ms in most minutes), about 29 s in 9 % of minutes (and at ``spikes``)."""
    x = np.where(rng.random(n) < 0.8, 0.005, 0.005 + 0.001 * rng.random(n))
    spiky = rng.random(n) < 0.09
    spiky[spikes] = True
    x[spiky] = 27.0 + 4.0 * rng.random(int(spiky.sum()))
    return x


def incident(seed: int) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]], np.ndarray]:
    """Normal data and an incident window: payment's CPU goes from 0.7 % to 100 % for four minutes while
    email's sparse latency quantile spikes (as it does in 9 % of normal minutes) through the same minutes."""
    rng = np.random.default_rng(seed)
    normal = {s: _service(rng, N_NORMAL) for s in GRAPH}
    window = {s: _service(rng, N_WINDOW) for s in GRAPH}
    normal["email"]["client_latency_p99"] = _sparse(rng, N_NORMAL)
    window["email"]["client_latency_p99"] = _sparse(rng, N_WINDOW, np.arange(FAULT_AT, N_WINDOW))
    window["email"]["client_latency_p99"][:FAULT_AT] = 0.005
    fault = slice(FAULT_AT, FAULT_AT + FAULT_LEN)
    window["payment"]["cpu"][fault] = 100.0
    window["payment"]["latency_p99"][fault] += 0.02
    window["frontend"]["latency_p99"][fault] += 0.02
    t = 60.0 * np.arange(N_WINDOW)
    return normal, window, t


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("graph", [None, GRAPH])
def test_a_real_cpu_fault_outranks_a_sparse_spiky_quantile(seed: int, graph: dict[str, list[str]] | None) -> None:
    normal, window, t = incident(seed)
    ranked = rank_root_causes(window, t, float(t[FAULT_AT]), graph, normal=normal)
    assert ranked[0].service == "payment"
    assert ranked[0].metric == "cpu"
    email = next(c for c in ranked if c.service == "email")
    spike = next(e for e in email.evidence if e.metric == "client_latency_p99")
    assert spike.deviation < 3.0  # a value common in normal minutes is not extreme
    assert spike.expected[1] > 27.0  # its expected range covers the common spikes


def test_without_the_tail_floor_the_spike_would_win() -> None:
    """The failure the floor fixes: a zero IQR makes one 29 s spike hundreds of thousands of robust sd."""
    normal, window, t = incident(0)
    ranked = rank_root_causes(window, t, float(t[FAULT_AT]), None, normal=normal, tail_quantile=1.0, combine="max")
    assert ranked[0].service == "email"
    assert ranked[0].deviation > 1000


def test_evidence_says_which_metric_window_range_and_how_unusual() -> None:
    normal, window, t = incident(1)
    top = rank_root_causes(window, t, float(t[FAULT_AT]), GRAPH, normal=normal)[0]
    cpu = next(e for e in top.evidence if e.metric == "cpu")
    assert cpu.window[0] == t[FAULT_AT]
    lo, hi = cpu.expected
    assert lo < 0.7 < hi < 5.0
    assert cpu.level == pytest.approx(100.0)
    assert "robust sd" in top.explanation and "expected" in top.explanation and "cpu" in top.explanation


def test_tail_spread_and_resolution() -> None:
    base = np.column_stack([np.r_[np.full(91, 0.005), np.full(9, 29.0)], np.arange(100.0) % 3])
    up = tail_spread(base, np.array([1, 0]), 0.95)
    assert up[0] == pytest.approx((29.0 - 0.005) / 1.6449, rel=1e-3)
    assert tail_spread(base, np.array([-1, 1]), 0.95)[0] == 0.0  # a fall of the spiky metric: no lower tail
    assert list(resolution(base)) == pytest.approx([29.0 - 0.005, 1.0])  # two values: the step between them


def test_kinds_families_and_scores() -> None:
    assert metric_kind("PodServerLatencyP95(s)") == "latency"
    assert metric_kind("PodSuccessRate(%)") == "errors"
    assert metric_kind("SyscallRead") == "rate"
    assert metric_family("lat_p99") == metric_family("lat_p50") != metric_family("cpu")
    ev = [SimpleNamespace(metric=m, deviation=d) for m, d in (("lat_p99", 500.0), ("lat_p50", 1.0), ("cpu", 8.0))]
    assert service_score(ev, {}, "family") == 8.0
    assert service_score(ev, {"latency": 0.5}, "max") == 250.0


def test_fit_kind_weights_prefers_kinds_that_move_at_roots() -> None:
    def e(metric: str, dev: float) -> SimpleNamespace:
        return SimpleNamespace(metric=metric, deviation=dev)

    cases = [
        ("a", {"a": [e("cpu", 9.0), e("mem", 5.0)], "b": [e("cpu", 0.5), e("mem", 6.0)]}),
        ("b", {"a": [e("cpu", 0.2), e("mem", 7.0)], "b": [e("cpu", 12.0), e("mem", 4.0)]}),
    ]
    w = fit_kind_weights(cases, 3.0)
    assert w["cpu"] == 1.0
    assert 0.25 <= w["memory"] < 1.0

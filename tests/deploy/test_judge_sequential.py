"""Tests of the sequential canary judge and its group-sequential boundaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hx.deploy.judge import JudgeConfig, MetricConfig
from hx.deploy.judge_sequential import SequentialJudge, Spending, boundaries, spent
from hx.errors import BadInput, Conflict


@pytest.mark.parametrize("spending", ["pocock", "obf"])
def test_boundaries_spend_exactly_alpha(spending: Spending) -> None:
    ts = (0.25, 0.5, 0.75, 1.0)
    zs = np.array(boundaries(ts, 0.01, spending))
    rng = np.random.default_rng(0)
    steps = rng.standard_normal((200_000, 4)) * math.sqrt(0.25)
    z = steps.cumsum(axis=1) / np.sqrt(ts)
    crossed = (z >= zs).any(axis=1).mean()
    assert crossed == pytest.approx(0.01, abs=0.0015)
    assert spent(1.0, 0.01, spending) == pytest.approx(0.01)


def test_known_pocock_and_single_look_boundaries() -> None:
    assert boundaries((1.0,), 0.025)[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-4)
    # Lan-DeMets Pocock-type, 5 equal looks, one-sided 0.025: 2.44, 2.43, 2.41, 2.40, 2.39
    got = boundaries((0.2, 0.4, 0.6, 0.8, 1.0), 0.025, "pocock")
    assert got == pytest.approx((2.438, 2.431, 2.413, 2.403, 2.394), abs=0.01)
    with pytest.raises(BadInput):
        boundaries((0.5, 0.4), 0.01)


def test_bad_canary_stops_at_first_look_and_good_one_runs_to_the_end() -> None:
    rng = np.random.default_rng(1)
    cfg = JudgeConfig(metrics=[MetricConfig(name="latency"), MetricConfig(name="errors", kind="count")])
    sj = SequentialJudge(cfg, looks=5)
    sv = sj.update(
        {"latency": rng.normal(100, 10, 20), "errors": rng.poisson(0.5, 20).astype(float)},
        {"latency": rng.normal(200, 10, 20), "errors": rng.poisson(0.5, 20).astype(float)},
    )
    assert sv.stop and sv.look == 1 and sv.verdict.metric("latency").status == "fail"
    with pytest.raises(Conflict):
        sj.update({"latency": np.ones(3), "errors": np.zeros(3)}, {"latency": np.ones(3), "errors": np.zeros(3)})
    good = SequentialJudge(cfg, looks=3)
    for _k in range(3):
        b = {"latency": rng.normal(100, 10, 20), "errors": rng.poisson(0.5, 20).astype(float)}
        c = {"latency": rng.normal(100, 10, 20), "errors": rng.poisson(0.5, 20).astype(float)}
        sv = good.update(b, c)
        assert not sv.stop
    assert sv.final and sv.verdict.status == "pass"
    with pytest.raises(Conflict):
        good.update(b, c)


def test_sequential_fpr_over_looks_stays_below_alpha() -> None:
    """100 null canaries, 5 looks each: a valid procedure flags about 1; naive repeated testing more."""
    rng = np.random.default_rng(2)
    cfg = JudgeConfig(metrics=[MetricConfig(name="latency")])
    flagged = 0
    for _ in range(100):
        sj = SequentialJudge(cfg, looks=5)
        for _k in range(5):
            sv = sj.update({"latency": rng.normal(100, 20, 12)}, {"latency": rng.normal(100, 20, 12)})
            if sv.stop:
                flagged += 1
                break
    assert flagged <= 5


def test_missing_metric_in_chunk_is_bad_input() -> None:
    sj = SequentialJudge(JudgeConfig(metrics=[MetricConfig(name="latency")]), looks=2)
    with pytest.raises(BadInput, match="latency"):
        sj.update({"cpu": np.ones(5)}, {"latency": np.ones(5)})
    with pytest.raises(BadInput):
        SequentialJudge(JudgeConfig(metrics=[MetricConfig(name="latency")]), looks=0)


def test_either_direction_and_planned_points() -> None:
    rng = np.random.default_rng(3)
    cfg = JudgeConfig(metrics=[MetricConfig(name="cpu", direction="either")])
    sj = SequentialJudge(cfg, looks=4, spending="obf", planned_points=80)
    stopped_at = 0
    for k in range(4):
        sv = sj.update({"cpu": rng.normal(50, 5, 20)}, {"cpu": rng.normal(40, 5, 20)})
        assert "cpu" in sv.boundaries and sv.boundaries["cpu"] > 0
        if sv.stop:
            stopped_at = k + 1
            break
    assert stopped_at >= 1
    assert sv.verdict.metric("cpu").shift == "lower"
    # O'Brien-Fleming-type spending is strict at the first look: its boundary is far above the fixed one
    first = boundaries((0.25,), 0.005, "obf")[0]
    assert first > 4.0

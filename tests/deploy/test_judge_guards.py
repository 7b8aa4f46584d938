"""Tests of the judge's short-window handling, guards and Kayenta-style effect-size thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hx.deploy.judge import JudgeConfig, MetricConfig, judge, load_metrics_config
from hx.deploy.judge_guards import effect_size, guard_reason, separation
from hx.deploy.judge_sequential import SequentialJudge
from hx.deploy.judge_stats import PHI_PRIOR, compare_continuous, lag1_for
from hx.errors import ConfigError


def _one(cfg: MetricConfig, base: np.ndarray, can: np.ndarray) -> tuple[str, str]:
    v = judge({cfg.name: base}, {cfg.name: can}, JudgeConfig(metrics=[cfg]))
    return v.status, v.metrics[0].reason


@pytest.mark.parametrize("n", [5, 10])
def test_a_fully_separated_doubling_fails_on_5_and_10_points(n: int) -> None:
    rng = np.random.default_rng(n)
    ramp = np.arange(1.0, n + 1)
    base, can = 100.0 + rng.normal(0, 8, n), 200.0 + rng.normal(0, 16, n)
    assert can.min() > base.max()
    for b, c in ((base, can), (ramp, 10 * ramp + 20 * n), (ramp * 0 + 3.0 + ramp / 100, 6.2 + ramp / 100)):
        status, reason = _one(MetricConfig(name="latency"), b, c)
        assert status == "fail" and "guard: canary fully above baseline" in reason, reason
    # the same move in the stated harmless direction passes; unstated, a fall beyond -45 % fails as Kayenta's
    # default would, saying how to accept it; a halving of a higher-is-better metric fails
    assert _one(MetricConfig(name="latency", direction="increase"), can, base)[0] == "pass"
    status, reason = _one(MetricConfig(name="latency"), can, base)
    assert status == "fail" and "fully below" in reason and "set direction: increase" in reason, reason
    five = np.arange(100.0, 105.0)
    assert _one(MetricConfig(name="latency", critical=True), five, five - 20)[0] == "pass"  # -20 %: within -45 %
    assert _one(MetricConfig(name="throughput", direction="decrease"), can, base)[0] == "fail"
    off = judge({"m": base}, {"m": can}, JudgeConfig(metrics=[MetricConfig(name="m", max_increase=None)]))
    assert off.metrics[0].guard is None


def test_a_short_window_no_longer_reads_as_strongly_autocorrelated() -> None:
    ramp = np.arange(1.0, 6.0)
    assert lag1_for([ramp, 10 * ramp]) == PHI_PRIOR  # 5 points: no estimate, the prior
    r = compare_continuous(ramp, 10 * ramp)
    assert r.autocorrelation == PHI_PRIOR
    # with the baseline's history the estimate comes from it (independent history: a small phi)
    rng = np.random.default_rng(2)
    hist = [rng.normal(3.0, 1.5, 240) for _ in range(3)]
    with_history = compare_continuous(ramp, 10 * ramp, history=hist)
    assert with_history.autocorrelation is not None and with_history.autocorrelation < 0.2
    assert with_history.status == "fail"
    # 10 points per series are enough to estimate from the windows themselves
    assert lag1_for([rng.normal(0, 1, 10), rng.normal(0, 1, 10)]) != PHI_PRIOR


def test_short_identical_windows_rarely_fail() -> None:
    """200 identical-process pairs of 5 and 10 points: the prior and the guards add (almost) no false alarms."""
    rng = np.random.default_rng(7)
    for n in (5, 10):
        for cfg in (MetricConfig(name="m"), MetricConfig(name="m", critical=True, tolerance=0.05)):
            fails = sum(_one(cfg, rng.normal(100, 20, n), rng.normal(100, 20, n))[0] == "fail" for _ in range(200))
            assert fails <= 2, (n, cfg.critical, fails)


def test_a_critical_error_rate_rising_from_zero_fails() -> None:
    zero = np.zeros(5)
    rising = np.array([0.02, 0.05, 0.03, 0.04, 0.06])
    status, reason = _one(MetricConfig(name="error_rate", critical=True), zero, rising)
    assert status == "fail" and "critical metric" in reason
    v = judge(
        {"error_rate": zero},
        {"error_rate": rising},
        JudgeConfig(metrics=[MetricConfig(name="error_rate", critical=True)]),
    )
    assert v.status == "fail" and v.reasons[0] == "critical metric failed: error_rate"
    # as counts per request: the rates are compared
    cfg = MetricConfig(name="errors", kind="count", critical=True, denominator="requests")
    base = {"errors": np.zeros(5), "requests": np.full(5, 100.0)}
    can = {"errors": np.array([2.0, 5, 3, 4, 6]), "requests": np.full(5, 100.0)}
    assert judge(base, can, JudgeConfig(metrics=[cfg])).status == "fail"


def test_critical_separation_guard_uses_the_gap_and_the_tolerance() -> None:
    base, can = np.array([100.0, 101, 102, 101, 100]), np.array([104.0, 105, 106, 105, 104])
    crit = MetricConfig(name="latency", critical=True, tolerance=0.05)
    assert guard_reason(crit, [base], [can]) is None  # fully above, but the gap (+2%) is within 5%
    far = can + 5.0
    reason = guard_reason(crit, [base], [far])
    assert reason is not None and "gap of +6.9%" in reason
    assert guard_reason(MetricConfig(name="latency"), [base], [far]) is None  # not critical: the margin rules
    assert guard_reason(crit.model_copy(update={"critical": False}), [base], [far]) is None


def test_margin_guards_relative_and_absolute() -> None:
    base, can = np.array([10.0, 11, 12, 11, 10]), np.array([16.0, 17, 18, 17, 16])  # +55%, fully above
    assert guard_reason(MetricConfig(name="m"), [base], [can]) is None  # default margin +80%
    assert guard_reason(MetricConfig(name="m", max_increase=0.5), [base], [can]) is not None
    reason = guard_reason(MetricConfig(name="m", max_increase_abs=5.0), [base], [can])
    assert reason is not None and "absolute margin 5" in reason
    assert guard_reason(MetricConfig(name="m", max_increase_abs=7.0), [base], [can]) is None
    # every canary step must be separated: one overlapping step and the guard stays quiet
    steps_b, steps_c = [base, base], [can * 2, base + 0.5]
    assert separation(steps_b, steps_c) == (None, 0.0)
    assert guard_reason(MetricConfig(name="m"), steps_b, steps_c) is None
    assert separation([base], [can * 2])[0] == "higher"


def test_absolute_bounds_need_no_baseline_difference() -> None:
    base = np.array([0.30, 0.31, 0.29, 0.30, 0.32])
    cfg = MetricConfig(name="p95", max_value=0.25)
    reason = guard_reason(cfg, [base], [base.copy()])
    assert reason is not None and "above max_value 0.25" in reason
    assert _one(cfg, base, base.copy())[0] == "fail"
    low = MetricConfig(name="success", direction="decrease", min_value=0.99)
    assert guard_reason(low, [np.full(5, 0.995)], [np.full(5, 0.98)]) is not None
    assert guard_reason(low, [np.full(5, 0.995)], [np.full(5, 0.995)]) is None


def test_kayenta_effect_size_thresholds() -> None:
    rng = np.random.default_rng(5)
    base, can = rng.normal(100, 2, 60), rng.normal(106, 2, 60)  # +6%: significant, beyond tolerance 2%
    assert _one(MetricConfig(name="m"), base, can)[0] == "fail"
    status, reason = _one(MetricConfig(name="m", allowed_increase=1.1), base, can)
    assert status == "pass" and "within the allowed mean_ratio" in reason
    assert _one(MetricConfig(name="m", allowed_increase=1.05), base, can)[0] == "fail"
    # a critical metric below critical_increase fails in the score only, not the whole judgement
    cfg = JudgeConfig(
        metrics=[
            MetricConfig(name="m", critical=True, critical_increase=1.5),
            *(MetricConfig(name=f"ok{i}") for i in range(19)),
        ],
        pass_threshold=90.0,
    )
    data_b = {"m": base, **{f"ok{i}": base for i in range(19)}}
    data_c = {"m": can, **{f"ok{i}": base for i in range(19)}}
    v = judge(data_b, data_c, cfg)
    assert v.metric("m").status == "fail" and not v.metric("m").critical and v.status == "pass"
    strict = cfg.model_copy(update={"metrics": [MetricConfig(name="m", critical=True), *cfg.metrics[1:]]})
    assert judge(data_b, data_c, strict).status == "fail"
    # the effect size also gates the separation guards; cles is P(canary > baseline)
    b5, c5 = np.arange(1.0, 6.0), np.arange(1.0, 6.0) * 10
    assert _one(MetricConfig(name="m", allowed_increase=20.0), b5, c5)[0] == "pass"
    assert _one(MetricConfig(name="m", effect_measure="cles", allowed_increase=0.9), b5, c5)[0] == "fail"
    assert effect_size("cles", b5, c5) == 1.0 and effect_size("mean_ratio", np.zeros(3), c5) == float("inf")


@pytest.mark.parametrize(
    ("settings", "key", "words"),
    [
        ({"min_value": 2, "max_value": 1}, "metrics.0", "min_value (2) must be below max_value (1)"),
        ({"allowed_increase": 0.9}, "metrics.0", "allowed_increase must be in [1, inf]"),
        ({"effect_measure": "cles", "allowed_decrease": 0.7}, "metrics.0", "allowed_decrease must be in [0, 0.5]"),
        ({"critical_increase": 2.0}, "metrics.0", "critical_increase applies only to a critical metric"),
        (
            {"critical": True, "allowed_increase": 3.0, "critical_increase": 2.0},
            "metrics.0",
            "allowed_increase must not exceed critical_increase",
        ),
        ({"max_increase": 0}, "metrics.0.max_increase", "greater than 0"),
        ({"max_decrease": 1.5}, "metrics.0.max_decrease", "less than 1"),
        ({"effect_measure": "median"}, "metrics.0.effect_measure", "mean_ratio"),
        ({"kind": "count", "denominator": "latency"}, "metrics.0", "'latency' cannot be its own denominator"),
    ],
)
def test_guard_and_effect_size_settings_are_validated_and_named(
    tmp_path: Path, settings: dict[str, object], key: str, words: str
) -> None:
    import yaml

    f = tmp_path / "metrics.yml"
    f.write_text(yaml.safe_dump({"metrics": [{"name": "latency", **settings}]}), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_metrics_config(f)
    assert key in str(err.value) and words in str(err.value)


def test_sequential_judge_stops_at_the_first_look_on_a_guard() -> None:
    rng = np.random.default_rng(9)
    cfg = JudgeConfig(metrics=[MetricConfig(name="latency_p95", critical=True, tolerance=0.05)])
    sj = SequentialJudge(cfg, looks=9)
    # a smooth metric at 11 points: the test alone holds almost no evidence, the guard catches the doubling
    base = 0.23 + np.cumsum(rng.normal(0, 0.001, 11))
    sv = sj.update({"latency_p95": base}, {"latency_p95": 2.1 * base})
    assert sv.stop and sv.look == 1 and sv.verdict.metric("latency_p95").guard is not None


def test_the_margin_reads_the_mean_when_one_large_value_doubles_it() -> None:
    base, can = np.array([1.0, 2, 3, 4, 5]), np.array([5.1, 5.2, 5.3, 5.4, 30.0])  # median +77 %, mean +240 %
    reason = guard_reason(MetricConfig(name="m"), [base], [can])
    assert reason is not None and "+240.0%" in reason
    assert guard_reason(MetricConfig(name="m"), [base], [np.array([5.1, 5.2, 5.3, 5.4, 5.5])]) is None


def test_an_error_rate_leaving_a_constant_zero_baseline_fails_even_with_one_matching_interval() -> None:
    base = np.zeros(10)
    can = np.array([0, 0.01, 0.02, 0.01, 0.03, 0.02, 0.01, 0.02, 0.03, 0.02])
    status, reason = _one(MetricConfig(name="err"), base, can)
    assert status == "fail" and "baseline is constant at 0" in reason and "9 of 10" in reason, reason
    # the harmless direction, and a canary that leaves the baseline in fewer than half its intervals, pass
    assert _one(MetricConfig(name="err", direction="decrease"), base, can)[0] == "pass"
    few = np.array([0, 0, 0, 0, 0, 0, 0.01, 0, 0.02, 0])
    assert _one(MetricConfig(name="err"), base, few)[0] == "pass"


def test_the_departure_guard_keeps_its_false_positive_budget_on_sparse_counts() -> None:
    rng = np.random.default_rng(7)
    cfg = JudgeConfig(metrics=[MetricConfig(name="errors")])
    for n, rate in ((5, 0.3), (10, 0.1), (10, 0.3), (10, 0.7)):
        hits = 0
        for _ in range(2000):
            b, c = rng.poisson(rate, n).astype(float), rng.poisson(rate, n).astype(float)
            g = judge({"errors": b}, {"errors": c}, cfg).metrics[0].guard
            hits += g is not None and "constant" in g
        assert hits / 2000 <= 0.01, (n, rate, hits)


def test_a_critical_metric_with_critical_increase_fails_outright_only_beyond_it() -> None:
    """Kayenta's critical_increase: a fully separated +20 % on a critical metric whose critical threshold is a mean
    ratio of 1.5 fails the metric (beyond allowed_increase 1.1) and counts in the score, not the whole judgement;
    +60 % reaches it and the critical guard fails the canary."""
    cfg = JudgeConfig(
        metrics=[
            MetricConfig(name="latency_ms", critical=True, allowed_increase=1.1, critical_increase=1.5),
            *(MetricConfig(name=k) for k in "abc"),
        ]
    )
    base = np.array([100.0, 102, 98, 101, 99])
    flat = {k: np.array([1.0, 2, 1, 2, 1]) for k in "abc"}
    v = judge({"latency_ms": base, **flat}, {"latency_ms": base + 20.0, **flat}, cfg)
    m = v.metric("latency_ms")
    assert m.status == "fail" and not m.critical and m.guard is None
    assert v.status != "fail" and v.score == 75.0
    v = judge({"latency_ms": base, **flat}, {"latency_ms": base * 1.6, **flat}, cfg)
    m = v.metric("latency_ms")
    assert v.status == "fail" and m.critical and m.guard is not None and "beyond critical 1.5" in m.guard

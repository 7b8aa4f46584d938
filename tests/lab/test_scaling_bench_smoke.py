"""The scaling benchmark's core on tiny synthetic data, and the replay's handling of bad traces."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hx.errors import BadInput
from hx.lab.scaling_replay import (
    PredictiveController,
    choose_alpha,
    development_split,
    grid_history,
    make_controller,
    replay,
    split_trace,
    usable_warmup,
)

DAY = 86400.0
ROOT = Path(__file__).resolve().parents[2]


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scaling", ROOT / "bench" / "scaling.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_scaling"] = mod
    spec.loader.exec_module(mod)
    return mod


def tiny(days: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """A daily ramp (1x at night, 3x from 10:00 to 14:00) at 5-minute steps, with gaps, zeros and a spike."""
    t = 1_700_006_400.0 + np.arange(0.0, days * DAY, 300.0)
    hour = (t % DAY) / 3600.0
    y = 100.0 * (1.0 + 2.0 * np.clip((hour - 10.0) * 3, 0, 1) * (hour < 14.0))
    y[20:30] = np.nan
    y[40:44] = 0.0
    y[60] = 50_000.0
    return t, y


def test_bench_core_on_tiny_data(tmp_path: Path) -> None:
    b = bench()
    t, y = tiny()
    tr = split_trace("tiny", t, y, test_days=0.5, peak_rps=300.0)
    res, tuning, choice = b.run_trace(tr)
    assert set(res) == {"hpa", "predictive", "static", "predictive-auto", "predictive-default"}
    # 2 days of history before the replay: the engine's rule keeps its default and says so
    assert not choice.chosen and res["predictive-auto"].meta["alpha"] == choice.alpha == 0.01
    assert "conservative default" in choice.reason
    assert tuning.config.calibration_alpha == tuning.alpha and tuning.tried
    assert tuning.development.test_end == tr.test_start and tuning.to_dict()["alpha"] == tuning.alpha
    for r in res.values():
        assert r.replica_hours > 0 and r.slo_violation_minutes >= 0 and r.actions >= 0
        assert r.replicas.shape == r.times.shape and np.all(r.replicas >= 1)
    assert res["static"].actions == 0
    v = {p: b.verdict(res, p) for p in ("predictive", "predictive-auto")}
    assert set(v["predictive-auto"]) >= {"slo_minutes_cut", "replica_hours_ratio", "target_met"}
    png = b.plot(tmp_path / "s.png", {"tiny": res})
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert b.table([r.summary() for r in res.values()], {"tiny": v}, True).row_count == 5
    val = b.validate_whatif(tr, tuning)
    assert val["alphas"] == sorted(tuning.tried) and len(val["whatif"]) == len(val["simulator"])
    assert val["alpha_simulator_rule"] == tuning.alpha and set(val["churn"]) >= set(b.CHURN_VARIANTS)
    assert b._spearman([1.0, 2.0, 3.0], [2.0, 4.0, 9.0]) == 1.0 and b._spearman([1.0, 1.0, 1.0], [1, 2, 3]) is None


def test_split_cleans_and_scales() -> None:
    t, y = tiny()
    order = np.random.default_rng(0).permutation(t.size)
    tr = split_trace("tiny", t[order], y[order], test_days=0.5, peak_rps=300.0)
    assert np.all(np.diff(tr.ts) > 0) and tr.step_s == 300.0
    assert tr.test_start % 3600 == 0 and tr.test_end == tr.ts[-1] + 300.0
    assert abs(float(np.nanpercentile(tr.rps, 99.5)) - 300.0) < 1e-6
    yn = y.copy()
    yn[5] = -4.0
    assert np.isnan(split_trace("tiny", t, yn, test_days=0.5).rps[5])


def test_split_at_a_coarser_resolution_replays_bucket_means() -> None:
    t = 1_700_006_400.0 + np.arange(0.0, 2.5 * DAY, 60.0)  # per-minute rows
    y = 100.0 + 50.0 * (np.arange(t.size) % 5 == 0)  # one burst every 5 minutes
    y[100:105] = np.nan  # a whole bucket (minutes 100-104) missing: a gap
    tr = split_trace("minutes", t, y, test_days=0.5, peak_rps=300.0, resolution_s=300.0)
    assert tr.step_s == 300.0 and np.all(np.diff(tr.ts) == 300.0)
    ok = np.isfinite(tr.rps)
    assert np.allclose(tr.rps[ok], 300.0)  # every bucket has the same mean: the bursts are averaged
    assert np.isnan(tr.rps[20]) and ok.sum() == tr.rps.size - 1
    assert tr.ts[0] == t[0] and tr.test_end == t[-1] + 60.0  # stamped at the bucket's start: the span is kept
    same = split_trace("minutes", t, y, test_days=0.5, peak_rps=300.0, resolution_s=60.0)
    assert same.step_s == 60.0 and same.rps.size == t.size  # the trace's own step: unchanged
    for bad in (30.0, 420.0, float("nan")):
        with pytest.raises(BadInput, match="--resolution"):
            split_trace("minutes", t, y, test_days=0.5, resolution_s=bad)


@pytest.mark.parametrize(
    ("days", "peak", "match"),
    [(3.0, 1000.0, "history"), (0.0, 1000.0, "days"), (0.5, -1.0, "peak"), (float("nan"), 1000.0, "days")],
)
def test_split_rejects(days: float, peak: float, match: str) -> None:
    t, y = tiny()
    with pytest.raises(BadInput, match=match):
        split_trace("tiny", t, y, test_days=days, peak_rps=peak)


def test_split_rejects_a_trace_without_demand() -> None:
    t, _ = tiny()
    with pytest.raises(BadInput):
        split_trace("zeros", t, np.zeros(t.size), test_days=0.5)


def test_predictive_sees_no_future() -> None:
    t, y = tiny()
    tr = split_trace("tiny", t, y, test_days=0.25, peak_rps=300.0)
    ctl = make_controller("predictive", tr, 50.0, 120.0)
    assert isinstance(ctl, PredictiveController)
    assert ctl.scaler.last_t is not None and ctl.scaler.last_t <= tr.test_start
    r = replay(tr, "predictive", cap=50.0)
    assert r.band is not None and np.all(np.isfinite(r.replicas))
    with pytest.raises(BadInput, match="policy"):
        make_controller("magic", tr, 50.0, 120.0)


def test_grid_history_is_a_trailing_mean() -> None:
    g, v = grid_history(np.array([0.0, 60.0, 120.0, 180.0, 240.0, 300.0]), np.array([1.0, 2, 3, 4, 5, 6]), 60.0)
    assert g.tolist() == [300.0, 600.0] and v.tolist() == [3.0, 6.0]


def test_development_split_ends_where_the_test_begins() -> None:
    t, y = tiny()
    tr = split_trace("tiny", t, y, test_days=0.5, peak_rps=300.0)
    dev = development_split(tr)
    assert dev.test_end == tr.test_start and dev.test_start == tr.test_start - 0.5 * DAY
    assert float(dev.ts[-1]) + dev.step_s <= tr.test_start  # nothing of the test period is in it
    with pytest.raises(BadInput, match="development"):
        development_split(split_trace("tiny", t, y, test_days=1.0, peak_rps=300.0))


Outcome = tuple[float, float]


def outcomes(table: dict[float, Outcome]) -> tuple[list[float], list[float], Callable[[float], Outcome]]:
    asked: list[float] = []

    def evaluate(a: float) -> Outcome:
        asked.append(a)
        return table[a]

    return list(table), asked, evaluate


@pytest.mark.parametrize(
    ("table", "hpa", "want"),
    [
        # the smallest SLO-safe alpha with replica-hours <= 0.98 x HPA's
        ({0.01: (1.0, 120.0), 0.02: (2.0, 97.0), 0.05: (6.0, 90.0), 0.1: (40.0, 80.0)}, (40.0, 100.0), 0.02),
        # none leaves the cost margin: the cheapest SLO-safe one
        ({0.01: (1.0, 120.0), 0.02: (4.0, 110.0), 0.05: (9.0, 105.0), 0.1: (40.0, 80.0)}, (40.0, 100.0), 0.05),
        # HPA has no violations: only zero is SLO-safe
        ({0.01: (0.0, 95.0), 0.02: (0.0, 90.0), 0.05: (1.0, 85.0)}, (0.0, 100.0), 0.01),
        # nothing SLO-safe: the fewest violations within HPA's replica-hours
        ({0.01: (30.0, 95.0), 0.02: (35.0, 90.0)}, (40.0, 100.0), 0.01),
        # ... which need not be the most cautious: violations do not always grow with alpha
        ({0.001: (4.0, 101.0), 0.003: (2.0, 99.0), 0.01: (3.0, 97.0), 0.02: (5.0, 95.0)}, (1.0, 100.0), 0.003),
        # ... a cheaper alpha within HPA's replica-hours is preferred to fewer violations beyond them
        ({0.001: (1.0, 104.0), 0.003: (2.0, 100.0), 0.01: (3.0, 97.0)}, (0.0, 100.0), 0.003),
        # the most cautious is not SLO-safe but later ones are: the rule among those
        ({0.001: (3.0, 100.0), 0.003: (0.0, 97.0), 0.01: (0.0, 95.0), 0.02: (2.0, 90.0)}, (0.0, 100.0), 0.003),
        ({0.001: (3.0, 100.0), 0.003: (0.0, 99.0), 0.01: (0.0, 98.5), 0.02: (2.0, 90.0)}, (0.0, 100.0), 0.01),
        # ... and when none is within them, the fewest violations of all
        ({0.001: (3.0, 104.0), 0.003: (2.0, 103.0), 0.01: (4.0, 101.0)}, (1.0, 100.0), 0.003),
    ],
)
def test_choose_alpha_rule(table: dict[float, tuple[float, float]], hpa: tuple[float, float], want: float) -> None:
    alphas, asked, evaluate = outcomes(table)
    assert choose_alpha(alphas, evaluate, hpa) == want
    assert len(asked) == len(set(asked))  # each development replay at most once


def test_warm_up_runs_before_the_test_days_and_is_not_counted() -> None:
    t, y = tiny(days=3.0)
    tr = split_trace("tiny", t, y, test_days=0.5, peak_rps=300.0)
    assert usable_warmup(tr) == 86400.0
    assert usable_warmup(split_trace("tiny", t, y, test_days=1.5, peak_rps=300.0)) == 0.5 * DAY
    cold = replay(tr, "predictive", cap=50.0)
    warm = replay(tr, "predictive", cap=50.0, warmup_s=usable_warmup(tr))
    for r in (cold, warm):
        assert r.times[0] > tr.test_start and r.times.size == r.replicas.size == 720
    assert warm.meta["warmup_days"] == 1.0 and "warmup_days" not in cold.meta
    assert warm.provisioned is not None and warm.provisioned.shape == warm.times.shape
    # a whole day of replicas counted would be > 720 minutes x 1 replica / 60 = 12 h more than the test's own
    assert warm.replica_hours == pytest.approx(float(np.sum(warm.replicas)) / 60.0, rel=0.05)
    with pytest.raises(BadInput, match="warm-up"):
        replay(tr, "predictive", cap=50.0, warmup_s=2.0 * DAY)

"""The detector contract, shipped with the library so a plugin author can run it on their own detector.

>>> from hx.detect import DETECTORS
>>> check_detector(DETECTORS.get("robust"))  # raises AssertionError naming the broken promise, if any

``yield_checks()`` yields the checks one by one (the test suite parametrises over every registered detector);
``check_detector(factory)`` runs them all.  ``factory`` is the detector class or any zero-argument callable that
builds a fresh, identically configured detector.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterator

import numpy as np

from hx.checks import expect, run_all
from hx.detect.base import Detector
from hx.telemetry.base import FloatArray

Factory = Callable[[], Detector]
Check = Callable[[Factory], None]


def series(n: int = 1400, seed: int = 3) -> tuple[FloatArray, FloatArray]:
    """A daily cycle on a 5-minute grid with noise, a spike at 900 and a level shift at 1100..1150."""
    rng = np.random.default_rng(seed)
    t = 1_600_000_000 + np.arange(n, dtype=np.float64) * 300.0
    v = 10 + 5 * np.sin(2 * np.pi * (t % 86400) / 86400) + rng.normal(0, 0.5, n)
    if n > 900:
        v[900] += 40.0
    v[1100:1150] += 6.0
    return v, t


def _loop(det: Detector, v: FloatArray, t: FloatArray) -> FloatArray:
    out = []
    for x, ts in zip(v.tolist(), t.tolist(), strict=True):
        out.append(det.score_one(x, ts))
        det.learn_one(x, ts)
    return np.asarray(out, dtype=np.float64)


def check_scores_finite_in_unit_interval(factory: Factory) -> None:
    v, t = series()
    s = factory().process(v, t)
    expect(s.shape == v.shape, f"process returned shape {s.shape} for {v.shape} points")
    expect(bool(np.isfinite(s).all()), "every score must be finite")
    expect(s.min() >= 0.0 and s.max() <= 1.0, f"scores must lie in [0, 1], got [{s.min()}, {s.max()}]")


def check_process_equals_score_then_learn(factory: Factory) -> None:
    v, t = series(950)
    np.testing.assert_allclose(factory().process(v, t), _loop(factory(), v, t), rtol=0, atol=1e-12)


def check_score_one_does_not_learn(factory: Factory) -> None:
    v, t = series(700)
    det = factory()
    det.process(v[:600], t[:600])
    first = det.score_one(float(v[600]), float(t[600]))
    expect(first == det.score_one(float(v[600]), float(t[600])), "score_one must not change the detector")


def check_clone_is_fresh_with_same_params(factory: Factory) -> None:
    v, t = series(800)
    det = factory()
    trained = det.process(v, t)
    twin = det.clone()
    expect(twin.get_params() == det.get_params(), "clone() must keep the parameters")
    np.testing.assert_array_equal(twin.process(v, t), trained, err_msg="clone() must be untrained")


def check_state_round_trip(factory: Factory) -> None:
    v, t = series()
    det = factory()
    det.process(v[:700], t[:700])
    other = factory()
    other.set_state(det.get_state())
    np.testing.assert_array_equal(other.process(v[700:], t[700:]), det.process(v[700:], t[700:]))


def check_deterministic(factory: Factory) -> None:
    v, t = series()
    np.testing.assert_array_equal(factory().process(v, t), factory().process(v, t), err_msg="same seed, same scores")


def check_pickle_round_trip(factory: Factory) -> None:
    v, t = series()
    det = factory()
    det.process(v[:700], t[:700])
    copy = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(copy.process(v[700:], t[700:]), det.process(v[700:], t[700:]))


def check_explain_describes_last_point(factory: Factory) -> None:
    v, t = series()
    det = factory()
    det.process(v[:901], t[:901])
    info = det.explain()
    expect(set(info) >= {"score", "expected_low", "expected_high", "components"}, f"explain() keys: {sorted(info)}")
    parts = info["components"]
    expect(isinstance(parts, dict) and bool(parts), "explain() must name at least one component")
    expect(all(0.0 <= s <= 1.0 for s in parts.values()), "component scores must lie in [0, 1]")
    lo, hi = info["expected_low"], info["expected_high"]
    expect((math.isnan(lo) and math.isnan(hi)) or lo <= hi, f"expected band [{lo}, {hi}] is not ordered")


def check_gaps_score_zero(factory: Factory) -> None:
    v, t = series(800)
    v = v.copy()
    v[700] = np.nan
    s = factory().process(v, t)
    expect(s[700] == 0.0, f"a gap (NaN) must score 0, got {s[700]}")
    expect(bool(np.isfinite(s).all()), "a gap must not make later scores NaN")


def check_flags_a_spike(factory: Factory) -> None:
    v, t = series()
    s = factory().process(v, t)
    expect(s[900:910].max() > s[600:900].max(), "a lone spike must score above the quiet stretch before it")


def yield_checks(*, spikes: bool = True) -> Iterator[Check]:
    """Every detector check; ``spikes=False`` leaves out the lone-spike check (for shape or drift detectors)."""
    yield check_scores_finite_in_unit_interval
    yield check_process_equals_score_then_learn
    yield check_score_one_does_not_learn
    yield check_clone_is_fresh_with_same_params
    yield check_state_round_trip
    yield check_deterministic
    yield check_pickle_round_trip
    yield check_explain_describes_last_point
    yield check_gaps_score_zero
    if spikes:
        yield check_flags_a_spike


def check_detector(factory: Factory, *, spikes: bool = True) -> None:
    """Run every detector check on detectors built by ``factory``; AssertionError on the first broken promise."""
    run_all(yield_checks(spikes=spikes), factory)

"""Contract tests run for every registered detector: a new detector gets them for free."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from hx.detect import DETECTORS, Detector
from hx.detect.base import make


def _series(n: int = 1400, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1_600_000_000 + np.arange(n) * 300.0
    v = 10 + 5 * np.sin(2 * np.pi * (t % 86400) / 86400) + rng.normal(0, 0.5, n)
    if n > 900:
        v[900] += 40.0
    v[1100:1150] += 6.0
    return v, t


def _loop(det: Detector, v: np.ndarray, t: np.ndarray) -> np.ndarray:
    out = []
    for x, ts in zip(v.tolist(), t.tolist(), strict=True):
        out.append(det.score_one(x, ts))
        det.learn_one(x, ts)
    return np.asarray(out)


@pytest.fixture(params=DETECTORS.names())
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_scores_finite_in_unit_interval(name: str) -> None:
    v, t = _series()
    s = DETECTORS.get(name)().process(v, t)
    assert s.shape == v.shape
    assert np.isfinite(s).all()
    assert s.min() >= 0.0 and s.max() <= 1.0


def test_process_equals_score_then_learn(name: str) -> None:
    v, t = _series(950)
    fast = DETECTORS.get(name)().process(v, t)
    slow = _loop(DETECTORS.get(name)(), v, t)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)


def test_score_one_does_not_learn(name: str) -> None:
    v, t = _series(700)
    det = DETECTORS.get(name)()
    det.process(v[:600], t[:600])
    first = det.score_one(float(v[600]), float(t[600]))
    again = det.score_one(float(v[600]), float(t[600]))
    assert first == again


def test_clone_is_fresh_with_same_params(name: str) -> None:
    v, t = _series(800)
    det = DETECTORS.get(name)()
    trained = det.process(v, t)
    twin = det.clone()
    assert twin.get_params() == det.get_params()
    np.testing.assert_array_equal(twin.process(v, t), trained)


def test_state_round_trip(name: str) -> None:
    v, t = _series()
    det = DETECTORS.get(name)()
    det.process(v[:700], t[:700])
    other = DETECTORS.get(name)()
    other.set_state(det.get_state())
    np.testing.assert_array_equal(other.process(v[700:], t[700:]), det.process(v[700:], t[700:]))


def test_deterministic_under_seed(name: str) -> None:
    v, t = _series()
    a = make(name, seed=7).process(v, t)
    b = make(name, seed=7).process(v, t)
    np.testing.assert_array_equal(a, b)


def test_pickle_round_trip(name: str) -> None:
    v, t = _series()
    det = DETECTORS.get(name)()
    det.process(v[:700], t[:700])
    copy = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(copy.process(v[700:], t[700:]), det.process(v[700:], t[700:]))


def test_explain_describes_last_point(name: str) -> None:
    v, t = _series()
    det = DETECTORS.get(name)()
    det.process(v[:901], t[:901])
    info = det.explain()
    assert set(info) >= {"score", "expected_low", "expected_high", "components"}
    assert isinstance(info["components"], dict) and info["components"]
    assert all(0.0 <= s <= 1.0 for s in info["components"].values())
    lo, hi = info["expected_low"], info["expected_high"]
    assert (math.isnan(lo) and math.isnan(hi)) or lo <= hi


def test_gaps_score_zero_and_are_not_learned(name: str) -> None:
    v, t = _series(800)
    with_gap = v.copy()
    with_gap[700] = np.nan
    a = DETECTORS.get(name)().process(with_gap, t)
    assert a[700] == 0.0
    assert np.isfinite(a).all()


#: detectors meant to flag a lone spike (the forest scores window shapes; CUSUM sustained shifts)
SPIKE_DETECTORS = [n for n in DETECTORS.names() if n not in ("iforest", "cusum")]


@pytest.mark.parametrize("name", SPIKE_DETECTORS)
def test_flags_the_injected_spike(name: str) -> None:
    v, t = _series()
    s = DETECTORS.get(name)().process(v, t)
    assert s[900:910].max() > s[600:900].max()  # flagged within the likelihood's 10-point window

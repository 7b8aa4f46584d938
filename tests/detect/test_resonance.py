"""The adaptive-resonance member and the likelihood's empirical tail floor."""

from __future__ import annotations

import math

import numpy as np

from hx.config import AnomalyDetection, SignalDetector
from hx.detect import DETECTORS
from hx.detect.calibrate import AnomalyLikelihood, p_to_score
from hx.detect.ensemble import Ensemble
from hx.detect.nab import DEFAULT_DETECTOR
from hx.detect.resonance import Resonance


def _rhythm(n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n, dtype=np.float64) * 60.0
    v = np.sin(np.arange(n) / 20.0) * 10.0 + 50.0
    return v, t


def test_a_broken_rhythm_is_novel_and_its_evidence_is_true() -> None:
    v, t = _rhythm()
    v[2500:2508] = 95.0  # a plateau the rhythm never held
    det = Resonance()
    s = det.process(v[:2501], t[:2501])
    assert s[-1] > 0.5
    assert s[700:2500].max() < s[-1]
    info = det.explain()
    assert info["components"] == {"resonance": s[-1]}
    lo, hi = info["expected_low"], info["expected_high"]
    assert lo <= hi
    assert not lo <= 95.0 <= hi  # the nearest learned pattern does not allow the value that broke it


def test_the_warm_up_is_honest() -> None:
    v, t = _rhythm(1000)
    v[100] = 500.0  # inside the warm-up: learned, never scored
    s = Resonance(probation=600).process(v, t)
    assert s[:600].max() == 0.0
    assert Resonance(probation=600).warmup == 600


def test_flat_then_spiky_keeps_quiet_when_the_pattern_is_known() -> None:
    rng = np.random.default_rng(4)
    n = 6000
    v = np.zeros(n)
    v[rng.choice(np.arange(700, n), 120, replace=False)] = rng.uniform(80, 100, 120)  # the usual spikes
    s = Resonance().process(v, np.arange(n) * 60.0)
    assert (s[3000:] >= 0.8).sum() <= 3


def test_the_resonance_ensemble_is_the_default_and_names_the_member() -> None:
    v, t = _rhythm()
    det = DETECTORS.get("ensemble_resonance")()
    det.process(v, t)
    assert "resonance" in det.explain()["components"]
    assert "resonance" not in DETECTORS.get("ensemble")().get_params()["components"]  # the previous default
    assert AnomalyDetection().detector == SignalDetector().detector == "ensemble_resonance"
    assert DEFAULT_DETECTOR == "ensemble_resonance"


def _bursty(n: int, seed: int) -> list[float]:
    """Raw scores of a bursty count series: mostly low, with bursts of high scores every so often."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.0, 0.2, n)
    for start in rng.choice(np.arange(200, n - 20), n // 300, replace=False):
        raw[start : start + 10] = rng.uniform(0.8, 1.0, 10)
    out: list[float] = raw.tolist()
    return out


def test_the_floor_keeps_a_recurring_burst_as_common_as_it_has_been() -> None:
    raw = _bursty(6000, 1)
    plain, floored = AnomalyLikelihood(), AnomalyLikelihood(floor=1)
    for r in raw[:3000]:
        plain.update(r)
        floored.update(r)
    alarms_plain = sum(p_to_score(plain.update(r)) >= 0.8 for r in raw[3000:])
    alarms_floor = sum(p_to_score(floored.update(r)) >= 0.8 for r in raw[3000:])
    assert alarms_plain >= 20  # the Gaussian tail calls every burst a 1e-4 event
    assert alarms_floor <= 2  # only a burst above every one remembered


def test_the_floor_leaves_a_never_seen_mean_its_gaussian_tail() -> None:
    raw = [0.1 + 0.01 * (i % 3) for i in range(2000)]
    plain, floored = AnomalyLikelihood(floor=0), AnomalyLikelihood(floor=1)
    for r in [*raw, *[0.9] * 5]:  # a run rising above every remembered mean
        plain.update(r)
        floored.update(r)
    assert math.isclose(plain.peek(0.9), floored.peek(0.9))
    assert p_to_score(floored.peek(0.9)) >= 0.8


def test_the_default_is_ready_when_its_first_members_are_and_resonance_joins_later() -> None:
    det = DETECTORS.get("ensemble_resonance")()
    assert det.warmup == DETECTORS.get("ensemble")().warmup < Resonance().warmup == 600
    assert Ensemble(components=("resonance",)).warmup == 600  # nothing else to wait for

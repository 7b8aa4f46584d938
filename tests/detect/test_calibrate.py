"""Calibration: the threshold semantics and the sensitivity shift."""

from __future__ import annotations

import numpy as np
import pytest

from hx.detect import DETECTORS, effective_threshold
from hx.detect.calibrate import p_to_score, score_to_p
from hx.errors import BadInput


def test_effective_threshold_shifts_by_sensitivity() -> None:
    assert effective_threshold(0.8, "medium") == 0.8
    assert effective_threshold(0.8, "high") < 0.8 < effective_threshold(0.8, "low")
    assert effective_threshold(0.95, "low") == 1.0


def test_effective_threshold_rejects_bad_input() -> None:
    with pytest.raises(BadInput):
        effective_threshold(0.8, "extreme")
    with pytest.raises(BadInput):
        effective_threshold(1.5, "medium")


def test_score_and_p_are_inverse() -> None:
    assert score_to_p(p_to_score(1e-3)) == pytest.approx(1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alert_rate_on_noise_matches_the_threshold(seed: int) -> None:
    """On pure noise, 0.8 (a 1e-4 tail) alerts rarely, whatever the noise's scale and offset."""
    rng = np.random.default_rng(seed)
    for scale, offset in ((1.0, 0.0), (1e6, 5e7)):
        v = offset + scale * rng.standard_t(5, 6000)
        s = DETECTORS.get("robust")().process(v, np.arange(6000.0) * 60)
        assert (s[1000:] >= 0.8).mean() < 2e-3


def test_likelihood_update_is_peek_then_learn() -> None:
    from hx.detect.calibrate import AnomalyLikelihood

    rng = np.random.default_rng(4)
    raws = np.r_[rng.uniform(0, 0.3, 600), 0.9, 0.95, rng.uniform(0, 0.3, 50)].tolist()
    fused, split = AnomalyLikelihood(long=300), AnomalyLikelihood(long=300)
    for raw in raws:
        p = split.peek(raw)
        split.learn(raw)
        assert fused.update(raw) == pytest.approx(p, rel=1e-12, abs=1e-300)
    fresh = AnomalyLikelihood(long=300)
    assert min(fresh.update(r) for r in raws) < 1e-4  # the burst of high raw scores is flagged


def test_tail_calibrator_history_stays_sorted_as_it_wraps() -> None:
    from hx.detect.calibrate import TailCalibrator

    rng = np.random.default_rng(5)
    cal = TailCalibrator(history=300, refit=7, min_history=50)
    for z in rng.exponential(size=1000).tolist():
        cal.learn(z)
        assert cal._live == sorted(cal._ring)
    cal._fit()
    assert cal._sorted == sorted(cal._ring) and cal._sorted is not cal._live

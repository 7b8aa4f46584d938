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

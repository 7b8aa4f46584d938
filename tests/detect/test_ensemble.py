"""The ensemble's options: per-component parameters, and re-arming the cooldown after a quiet stretch."""

from __future__ import annotations

import numpy as np

from hx.detect.ensemble import Ensemble
from hx.detect.likelihood import Likelihood


def _two_incidents(gap: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    v = rng.normal(0, 1, 1500)
    v[1200] = 60.0
    v[1200 + gap] = 120.0
    return v, 1_600_000_000 + np.arange(v.size) * 300.0


def test_options_reach_the_components_and_survive_clone() -> None:
    det = Ensemble(options={"likelihood": {"base_params": {"phase": 2}}, "novelty": {"window": 500}})
    parts = dict(zip(det.components, det._parts, strict=True))
    assert isinstance(parts["likelihood"], Likelihood)
    assert parts["likelihood"]._base.get_params()["phase"] == 2
    assert parts["novelty"].get_params()["window"] == 500
    assert det.clone().get_params() == det.get_params()


def test_cooldown_halves_a_second_incident_unless_rearmed() -> None:
    v, t = _two_incidents()
    kept = Ensemble().process(v, t)
    rearmed = Ensemble(rearm=20).process(v, t)
    assert kept[1200] >= 0.8 and rearmed[1200] >= 0.8
    assert kept[1260] < 0.8  # within the 100-point cooldown
    assert rearmed[1260] >= 0.8  # 20 quiet points ended it


def test_fold_alerts_of_the_raw_scores_is_the_streamed_fold_at_any_threshold() -> None:
    from hx.detect.ensemble import fold_alerts

    v, t = _two_incidents(gap=150)
    raw = Ensemble(cooldown=0).process(v, t)
    for threshold in (0.6, 0.8, 0.9):
        streamed = Ensemble(alert_threshold=threshold).process(v, t)
        np.testing.assert_allclose(fold_alerts(raw, threshold), streamed)

"""Strategy training on simulated rollouts (:mod:`hx.lab.strategy_training`)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from hx.deploy.risk import FEATURES
from hx.lab.strategy_training import _scenario, run_scenario


def test_a_simulated_scenario_measures_real_rollouts() -> None:
    rng = np.random.default_rng(3)
    sc = _scenario(0, rng, datetime(2026, 1, 5, tzinfo=UTC))
    sc.update(bad=True, kind="error_spike", magnitude=0.3)
    debug: dict[str, object] = {}
    features, costs = run_scenario(sc, Path(tempfile.mkdtemp()) / "w", debug)
    assert len(features) == len(FEATURES)
    assert set(costs) == {"rolling", "blue_green", "canary", "conservative"}
    # a bad change promoted is the worst outcome; the strategies that caught it cost less
    caught = [s for s, v in debug.items() if v[0] == "rolled_back"]  # type: ignore[index]
    assert caught, debug
    assert all(costs[s] < 100 for s in caught)

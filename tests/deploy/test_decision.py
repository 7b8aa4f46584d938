from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from hx.deploy.decision import MODEL_NAME, StrategyModel, decide, rule_strategy
from hx.deploy.risk import FEATURES, Risk, change_size_factor, combine, time_of_week_factor
from hx.errors import ModelError
from hx.ml.registry import ModelRegistry, load_or_fallback
from hx.security.sealing import Sealer
from hx.store import Store


def _risk(score_bias: float, migration: float = 0.0) -> Risk:
    f = {k: score_bias for k in FEATURES}
    f["migration"] = migration
    return Risk(combine(f), f)


def test_risk_factors_are_bounded_and_named() -> None:
    assert time_of_week_factor(datetime(2026, 3, 3, 10, tzinfo=UTC)) < time_of_week_factor(
        datetime(2026, 3, 6, 18, tzinfo=UTC)
    )
    assert change_size_factor({"lines_changed": 5}) < change_size_factor({"lines_changed": 5000})
    r = _risk(0.5)
    assert 0 <= r.score <= 1
    j = r.to_json()
    assert set(j["factors"]) == set(FEATURES) and len(j["top"]) == 3


def test_rules_fallback_by_risk() -> None:
    assert rule_strategy(_risk(0.0)) == "rolling"
    assert rule_strategy(_risk(0.35)) == "canary"
    assert rule_strategy(_risk(0.9)) == "conservative"
    assert rule_strategy(_risk(0.0, migration=1.0)) == "blue_green"


def _fitted() -> tuple[StrategyModel, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(200, len(FEATURES)))
    y = np.where(x[:, 0] > 0.5, "conservative", "rolling")
    return StrategyModel(n_estimators=50).fit(x, y), x


def test_model_confidence_threshold_and_fallback(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db'}")
    store.upgrade()
    reg = ModelRegistry(store, Sealer.derive(b"k" * 32, "state"))
    assert decide(_risk(0.1), load_or_fallback(reg, MODEL_NAME), 0.85, "conservative").source == "rules"
    model, x = _fitted()
    reg.save(MODEL_NAME, model, metrics={}, data_fingerprint="x", training_data="simulated", promote=True)
    handle = load_or_fallback(reg, MODEL_NAME)
    clear = Risk(0.0, {k: 0.05 for k in FEATURES})
    d = decide(clear, handle, 0.6, "conservative")
    assert d.source == "model" and d.strategy == "rolling" and d.training_data == "simulated"
    borderline = Risk(0.0, {**{k: 0.05 for k in FEATURES}, FEATURES[0]: 0.5})
    d = decide(borderline, handle, 0.99, "conservative")
    assert d.source == "fallback" and d.strategy == "conservative" and "threshold" in d.reason
    with pytest.raises(ModelError):
        StrategyModel().fit(x[:5], np.array(["a"] * 5))

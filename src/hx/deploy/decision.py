"""The decision engine: a Random Forest recommends a strategy with a confidence; below the configured
``confidence_threshold`` the configured ``fallback_strategy`` is used and the reason recorded.

With no promoted model (or one that fails to load) a rule on the risk score decides, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from hx.deploy.risk import FEATURES, MIN_ROWS, Risk
from hx.errors import ModelError
from hx.ml.registry import ModelHandle

MODEL_NAME = "deploy-strategy"
CANDIDATES = ("rolling", "blue_green", "canary", "conservative")


class StrategyModel:
    """Random Forest over the risk factors -> the strategy that succeeded."""

    def __init__(self, n_estimators: int = 200, max_depth: int | None = 8, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.seed = seed
        self.model: RandomForestClassifier | None = None

    def get_config(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "max_depth": self.max_depth, "seed": self.seed}

    def get_state(self) -> dict[str, Any]:
        return {"model": self.model, "features": list(FEATURES)}

    def set_state(self, state: dict[str, Any]) -> None:
        if list(state.get("features", [])) != list(FEATURES):
            raise ValueError("model was trained on different features")
        self.model = state["model"]

    def clone(self) -> StrategyModel:
        return StrategyModel(**self.get_config())

    def fit(self, x: np.ndarray, y: np.ndarray) -> StrategyModel:
        if x.ndim != 2 or x.shape[1] != len(FEATURES) or len(x) != len(y) or len(x) < MIN_ROWS:
            raise ModelError(f"training needs >= {MIN_ROWS} rows of {len(FEATURES)} features with labels")
        self.model = RandomForestClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth, random_state=self.seed, class_weight="balanced"
        ).fit(x, y)
        return self

    def predict(self, features: list[float]) -> tuple[str, float, dict[str, float]]:
        if self.model is None:
            raise ModelError("strategy model is not trained")
        proba = self.model.predict_proba(np.asarray([features], dtype=np.float64))[0]
        classes = [str(c) for c in self.model.classes_]
        best = int(np.argmax(proba))
        return classes[best], float(proba[best]), {c: round(float(p), 4) for c, p in zip(classes, proba, strict=True)}


def rule_strategy(risk: Risk) -> str:
    """The rule-based fallback: the riskier the change, the more careful the strategy."""
    if risk.factors.get("migration", 0.0) >= 1.0:
        return "blue_green"
    if risk.score < 0.25:
        return "rolling"
    if risk.score < 0.5:
        return "canary"
    return "conservative"


@dataclass(frozen=True)
class Decision:
    strategy: str
    recommended: str
    confidence: float
    source: str
    reason: str
    probabilities: dict[str, float]
    training_data: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def decide(risk: Risk, handle: ModelHandle, threshold: float, fallback: str) -> Decision:
    if handle.in_use == "model" and handle.model is not None:
        training = handle.meta.training_data if handle.meta else None
        rec, conf, proba = handle.model.predict(risk.features())
        if conf >= threshold:
            return Decision(rec, rec, conf, "model", f"model confidence {conf:.2f} >= {threshold:.2f}", proba, training)
        reason = f"model confidence {conf:.2f} < threshold {threshold:.2f}: using the {fallback} fallback"
        return Decision(fallback, rec, conf, "fallback", reason, proba, training)
    rec = rule_strategy(risk)
    return Decision(rec, rec, 1.0, "rules", f"rules on risk {risk.score:.2f} ({handle.reason})", {}, None)

"""The deployment strategy model's learner, registered with the improvement cycle's learner family.

A finished rollout whose strategy did its job (promoted, or a bad change caught by its canary) labels its
risk factors with that strategy (as ``hx deploy train`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hx.deploy.strategies import STRATEGIES
from hx.ml.learners import LEARNERS, Examples, sorted_examples

if TYPE_CHECKING:
    from hx.platform import Platform


class StrategyLearner:
    """The deployment strategy model (a Random Forest over the risk factors)."""

    model_name = "deploy-strategy"  # hx.deploy.decision.MODEL_NAME (that module imports scikit-learn)
    min_examples = 10
    labels: tuple[str, ...] = STRATEGIES

    def examples(self, platform: Platform) -> Examples:
        from hx.deploy.decision import rule_strategy
        from hx.deploy.examples import labelled_rollouts
        from hx.deploy.risk import FEATURES, Risk

        rows = []
        for d in labelled_rollouts(platform):
            risk = Risk(float(d.risk.get("score", 0.0)), {k: float(d.risk["factors"][k]) for k in FEATURES})
            rows.append((d.finished_at or d.updated_at, risk.features(), d.strategy, rule_strategy(risk)))
        return sorted_examples(rows, len(FEATURES))

    def fit(self, x: np.ndarray, y: Sequence[str], seed: int) -> Any:
        from hx.deploy.decision import StrategyModel

        return StrategyModel(seed=seed).fit(x, np.asarray(y))

    def predict(self, model: Any, x: np.ndarray) -> list[str]:
        return [str(c) for c in model.model.predict(x)] if len(x) else []


LEARNERS.add(StrategyLearner.model_name, StrategyLearner())

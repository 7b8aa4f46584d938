"""The learner contract checks: every registered learner passes them; a broken learner is named."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from hx.deploy.decision import MODEL_NAME as STRATEGY_MODEL
from hx.errors import LearnerCheckFailed
from hx.improve.checks import check_learner
from hx.ml.learners import LEARNERS, Examples
from hx.platform import Platform


@pytest.mark.parametrize("name", LEARNERS.names())
def test_every_registered_learner_keeps_the_contract(name: str, iplatform: Platform) -> None:
    check_learner(LEARNERS.get(name), iplatform)


def test_the_registry_holds_each_packages_learner_under_its_models_name() -> None:
    assert STRATEGY_MODEL in LEARNERS and "heal.incident_classifier" in LEARNERS


class Forgetful:
    """A learner whose model does not survive the registry (its state is not its fitted model)."""

    model_name = "test.forgetful"
    min_examples = 2
    labels: tuple[str, ...] = ("a", "b")

    def examples(self, platform: Platform) -> Examples:
        return Examples(np.zeros((0, 3)), [], [])

    def fit(self, x: np.ndarray, y: Sequence[str], seed: int) -> Any:
        return _Majority(str(y[0]))

    def predict(self, model: Any, x: np.ndarray) -> list[str]:
        return [model.label] * len(x)


class _Majority:
    def __init__(self, label: str = "b") -> None:
        self.label = label

    def get_config(self) -> dict[str, Any]:
        return {}

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


def test_a_learner_breaking_the_contract_is_named_with_the_check() -> None:
    with pytest.raises(LearnerCheckFailed, match="'test.forgetful' fails check_registry_round_trip"):
        check_learner(Forgetful())

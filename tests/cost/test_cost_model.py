from __future__ import annotations

import numpy as np
import pytest

from hx.cost import CostModel, arithmetic_cost, compare, synthetic_bills
from hx.errors import BadInput, ModelError


def test_random_forest_beats_the_arithmetic_model_on_held_out_bills() -> None:
    x, y = synthetic_bills(1500, seed=1)
    model = CostModel(n_estimators=100).fit(x[:1000], y[:1000])
    c = compare(model, x[1000:], y[1000:])
    # the arithmetic model misses discounts, autoscaling and traffic egress; the RF learns them
    assert c.rf_mape < 0.5 * c.arithmetic_mape
    assert c.rf_mape < 0.08
    assert set(model.feature_importances()) >= {"vcpu", "cpu_utilization"}


def test_arithmetic_cost_and_errors() -> None:
    x = np.array([[1, 2, 1, 0.5, 0.5, 0, 0]], dtype=float)
    assert arithmetic_cost(x)[0] == pytest.approx(730 * (0.021811 + 2 * 0.002923))
    with pytest.raises(BadInput):
        arithmetic_cost(np.ones((2, 3)))
    with pytest.raises(ModelError):
        CostModel().predict(x)
    with pytest.raises(BadInput):
        CostModel().fit(x, np.array([-1.0]))

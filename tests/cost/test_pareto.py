from __future__ import annotations

import numpy as np
import pytest

from hx.cost import InstanceType, choose, options, pareto_front
from hx.errors import BadInput

TYPES = [
    InstanceType("small", 2, 4, 0.05),
    InstanceType("large", 8, 16, 0.18),  # cheaper per vCPU
    InstanceType("pricey", 2, 4, 0.09),  # dominated by small
]


def demand() -> np.ndarray:
    rng = np.random.default_rng(0)
    return 6 + 3 * np.sin(np.linspace(0, 20, 2000)) + rng.normal(0, 0.5, 2000)


def test_front_is_non_dominated_and_sorted() -> None:
    opts = options(TYPES, demand(), replicas=range(1, 9))
    front = pareto_front(opts)
    costs = [o.monthly_usd for o in front]
    risks = [o.risk for o in front]
    assert costs == sorted(costs) and risks == sorted(risks, reverse=True)
    assert all(o.instance != "pricey" for o in front)
    for o in opts:  # nothing outside the front beats a front member on both
        assert not any(o.monthly_usd < f.monthly_usd and o.risk < f.risk for f in front)


def test_choose_policies() -> None:
    opts = options(TYPES, demand(), replicas=range(1, 9))
    c = choose(opts, max_risk=0.01)
    assert c.option.risk <= 0.01
    assert all(o.monthly_usd >= c.option.monthly_usd for o in c.front if o.risk <= 0.01)
    cheap = choose(opts, cost_weight=1.0)
    assert cheap.option.monthly_usd == min(o.monthly_usd for o in opts)
    none = choose(options(TYPES, demand() * 100, replicas=range(1, 3)), max_risk=0.0)
    assert "no option" in none.reason


def test_bad_input() -> None:
    with pytest.raises(BadInput):
        options(TYPES, np.array([np.nan]))
    with pytest.raises(BadInput):
        options([InstanceType("zero", 0, 1, 1.0)], demand())
    with pytest.raises(BadInput):
        choose([])

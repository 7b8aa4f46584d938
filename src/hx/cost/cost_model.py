"""Service cost: the plain arithmetic model and a Random Forest that learns what it misses.

The arithmetic model prices what is provisioned: ``730 h x replicas x (vCPU x price + GiB x price)``
plus egress.  Real bills differ from it in ways that depend on utilisation and configuration
(sustained-use discounts, autoscaling that runs more or fewer replicas than configured, egress that
follows traffic).  :class:`CostModel` (scikit-learn ``RandomForestRegressor``) is fitted on observed
monthly costs and predicts ``log(actual / arithmetic)``, so it corrects the arithmetic model and still
scales with it.  :func:`compare` reports both models' errors on held-out data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.cost.rightsizing import HOURS_PER_MONTH, Prices
from hx.errors import BadInput, ModelError

FloatArray = npt.NDArray[np.float64]

#: the feature columns, in order
FEATURES: tuple[str, ...] = (
    "vcpu",
    "memory_gib",
    "replicas",
    "cpu_utilization",
    "memory_utilization",
    "requests_per_s",
    "egress_gib_month",
)
EGRESS_USD_PER_GIB = 0.085


def _check(x: npt.ArrayLike) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != len(FEATURES):
        raise BadInput(f"features must be an (n, {len(FEATURES)}) array with columns {FEATURES}", field="features")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise BadInput("features must be finite and >= 0", field="features")
    return a


def arithmetic_cost(features: npt.ArrayLike, prices: Prices | None = None) -> FloatArray:
    """Monthly USD of what is provisioned, plus egress.

    >>> float(arithmetic_cost([[2, 8, 3, 0.5, 0.5, 10, 100]])[0].round(2))
    155.24
    """
    x = _check(features)
    p = prices or Prices()
    compute = HOURS_PER_MONTH * x[:, 2] * (x[:, 0] * p.vcpu_hour + x[:, 1] * p.gib_hour)
    return np.asarray(compute + x[:, 6] * EGRESS_USD_PER_GIB, dtype=np.float64)


class CostModel:
    """Random Forest on the features, learning the log-ratio of the actual cost to the arithmetic one."""

    def __init__(
        self, *, n_estimators: int = 200, min_samples_leaf: int = 3, random_state: int = 0, prices: Prices | None = None
    ) -> None:
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self.prices = prices or Prices()
        self._rf: Any = None

    def fit(self, features: npt.ArrayLike, cost_usd: npt.ArrayLike) -> CostModel:
        from sklearn.ensemble import RandomForestRegressor

        x = _check(features)
        y = np.asarray(cost_usd, dtype=np.float64)
        if y.shape != (x.shape[0],) or not np.all(np.isfinite(y)) or np.any(y <= 0):
            raise BadInput("cost must be one positive, finite number per row", field="cost_usd")
        base = np.maximum(arithmetic_cost(x, self.prices), 1e-6)
        self._rf = RandomForestRegressor(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.random_state,
            n_jobs=1,
        ).fit(x, np.log(y / base))
        return self

    def predict(self, features: npt.ArrayLike) -> FloatArray:
        if self._rf is None:
            raise ModelError("CostModel: call fit() before predict()")
        x = _check(features)
        return np.asarray(arithmetic_cost(x, self.prices) * np.exp(self._rf.predict(x)), dtype=np.float64)

    def feature_importances(self) -> dict[str, float]:
        if self._rf is None:
            raise ModelError("CostModel: call fit() first")
        return dict(zip(FEATURES, map(float, self._rf.feature_importances_), strict=True))


@dataclass(frozen=True)
class Comparison:
    rf_mape: float
    arithmetic_mape: float
    rf_mae: float
    arithmetic_mae: float
    n_test: int

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def compare(model: CostModel, features: npt.ArrayLike, cost_usd: npt.ArrayLike) -> Comparison:
    """Errors of the fitted RF and of the arithmetic model on (held-out) data."""
    x = _check(features)
    y = np.asarray(cost_usd, dtype=np.float64)
    rf, ar = model.predict(x), arithmetic_cost(x, model.prices)
    return Comparison(
        rf_mape=float(np.mean(np.abs(rf - y) / y)),
        arithmetic_mape=float(np.mean(np.abs(ar - y) / y)),
        rf_mae=float(np.mean(np.abs(rf - y))),
        arithmetic_mae=float(np.mean(np.abs(ar - y))),
        n_test=int(y.size),
    )


def synthetic_bills(n: int, seed: int = 0, prices: Prices | None = None) -> tuple[FloatArray, FloatArray]:
    """Services and monthly bills with the effects real bills have and the arithmetic model ignores.

    - sustained-use discount: up to 30 % off compute for services that run hot (utilisation > 0.6);
    - autoscaling: the replicas actually run follow CPU utilisation (x0.6 when idle .. x1.4 when hot);
    - egress: besides the configured volume, each req/s adds about 2.6 GiB a month;
    - 3 % noise.
    """
    rng = np.random.default_rng(seed)
    p = prices or Prices()
    vcpu = rng.choice([1, 2, 4, 8, 16], n).astype(float)
    mem = vcpu * rng.choice([2.0, 4.0, 8.0], n)
    replicas = rng.integers(1, 21, n).astype(float)
    cpu_u = rng.beta(2, 3, n)
    mem_u = rng.beta(3, 2, n)
    rps = rng.lognormal(3, 1.2, n)
    egress = rng.lognormal(3, 1.0, n)
    x = np.column_stack([vcpu, mem, replicas, cpu_u, mem_u, rps, egress])
    run_replicas = replicas * (0.6 + 0.8 * cpu_u)
    discount = 1.0 - 0.3 * np.clip((cpu_u - 0.6) / 0.4, 0, 1)
    compute = HOURS_PER_MONTH * run_replicas * (vcpu * p.vcpu_hour + mem * p.gib_hour) * discount
    cost = (compute + (egress + 2.6 * rps) * EGRESS_USD_PER_GIB) * rng.lognormal(0, 0.03, n)
    return x, cost

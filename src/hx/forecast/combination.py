"""A forecast combination: the weighted mean of other registered forecasters.

Averaging the forecasts of different models is one of the best-established ways to cut forecast
error (Bates & Granger 1969; Clemen 1989; the M4 competition, Makridakis et al. 2020): the members'
errors are partly independent, so the mean errs less than the average member, and it is rarely far
behind the best member on any series, even when which member is best changes over time.  Equal
weights are the default because estimated weights seldom beat them out of sample (the "forecast
combination puzzle", Smith & Wallis 2009).

The interval ends are combined the same way as the means (quantile averaging): each end is the
weighted mean of the members' ends, which keeps ``lower <= mean <= upper``.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from hx.errors import BadInput
from hx.forecast.base import FORECASTERS, FloatArray, Forecaster


@FORECASTERS.register("combination")
class Combination(Forecaster):
    """The weighted mean of member forecasters (by registry name), fitted on the same history.

    ``member_params`` gives a member's config (``{"gbt": {"max_iter": 50}}``); level and step are the
    combination's.  ``weights`` default to equal; they are normalised to sum to one.

    >>> import numpy as np
    >>> ts = np.arange(0.0, 3 * 86400.0, 3600.0)
    >>> y = 10 + np.sin(2 * np.pi * ts / 86400)
    >>> fc = Combination(members=("naive", "seasonal_naive")).fit(ts, y).forecast(2)
    >>> np.allclose(fc.mean, (y[-1] + y[-24:-22]) / 2)
    True
    """

    name = "combination"
    min_points = 2

    def __init__(
        self,
        *,
        members: tuple[str, ...] = ("holt_winters", "gbt"),
        weights: tuple[float, ...] | None = None,
        member_params: dict[str, dict[str, Any]] | None = None,
        level: float = 0.8,
        step: float | None = None,
    ) -> None:
        super().__init__(level=level, step=step)
        members = tuple(members)
        if not members:
            raise BadInput("a combination needs at least one member forecaster", field="members")
        for m in members:
            FORECASTERS.get(m)  # an unknown name raises UnknownName listing the valid ones
            if m == self.name:
                raise BadInput("a combination cannot contain itself", field="members")
        if len(set(members)) != len(members):
            raise BadInput(f"members must be distinct, got {members}", field="members")
        if weights is not None:
            weights = tuple(float(w) for w in weights)
            if len(weights) != len(members) or not all(np.isfinite(w) and w >= 0 for w in weights):
                raise BadInput(
                    f"weights must be {len(members)} finite non-negative numbers, got {weights}", field="weights"
                )
            if sum(weights) <= 0:
                raise BadInput("weights must not all be zero", field="weights")
        unknown = set(member_params or {}) - set(members)
        if unknown:
            raise BadInput(f"member_params for forecasters not in members: {sorted(unknown)}", field="member_params")
        self.members = members
        self.weights = weights
        self.member_params = member_params

    @classmethod
    def _unit_test_params(cls) -> dict[str, Any]:
        return {"member_params": {"gbt": FORECASTERS.get("gbt")._unit_test_params()}}

    def _weights(self) -> FloatArray:
        w = np.ones(len(self.members)) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        return np.asarray(w / w.sum(), dtype=np.float64)

    def _build(self, member: str) -> Forecaster:
        params = dict((self.member_params or {}).get(member, {}))
        params.update(level=self.level, step=self.step_)
        return FORECASTERS.get(member)(**params)

    # ---- state: members are saved as their own config + state ------------------------------

    def get_state(self) -> dict[str, Any]:
        data = super().get_state()
        data["state"]["members_"] = [m.get_state() for m in self.members_] if self._fitted else []
        return data

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Self:
        state = dict(data["state"])
        saved = state.pop("members_", [])
        obj = super().from_state({**data, "state": state})
        obj.members_ = [FORECASTERS.get(s["model"]).from_state(s) for s in saved]
        return obj

    # ---- hooks ------------------------------------------------------------------------

    def _fit(self, y: FloatArray) -> None:
        ts = self.timestamps_(0, y.shape[0])
        self.members_ = [self._build(m).fit(ts, y) for m in self.members]

    def _update(self, new: FloatArray) -> None:
        n = self.y_.shape[0]
        ts = self.timestamps_(n - new.shape[0], n)
        for m in self.members_:
            m.update(ts, new)

    def _forecast(self, h: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        w = self._weights()
        fcs = [m.forecast(h) for m in self.members_]
        mean, lower, upper = (
            np.asarray(np.sum([wi * getattr(f, part) for wi, f in zip(w, fcs, strict=True)], axis=0))
            for part in ("mean", "lower", "upper")
        )
        return mean, lower, upper

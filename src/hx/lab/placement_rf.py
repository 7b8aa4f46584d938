"""A Random Forest that ranks a workload's candidate locations the way the exact optimiser picks them.

It is advisory: it can shortlist candidates or pre-fill a plan, but ``place`` (the MILP) has the last
word; the benchmark reports how often the model alone agrees with the optimiser.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from hx.cloud.candidates import CandidateSet
from hx.cloud.plan import PlacementPlan
from hx.cloud.providers import names as cloud_names
from hx.cloud.workload import Estate

#: the registered clouds, in registration order (a feature: the cloud's index)
CLOUD_ORDER = list(cloud_names())


def _features(cs: CandidateSet, volume: float) -> np.ndarray:
    cheapest = cs.candidates[0].unit_price
    rows = []
    for rank, c in enumerate(cs.candidates):
        rows.append(
            [
                rank,
                c.unit_price / cheapest,
                (c.unit_price - cheapest) * cs.workload.replicas,
                volume,
                float(c.spot),
                c.worst_rtt_ms,
                len(cs.candidates),
                CLOUD_ORDER.index(c.location.cloud),
            ]
        )
    return np.array(rows, dtype=float)


class PlacementRanker:
    """Classifier over (workload, candidate) rows: was this candidate the optimiser's choice?"""

    def __init__(self, n_estimators: int = 100, max_depth: int | None = 8, seed: int = 0) -> None:
        self.n_estimators, self.max_depth, self.seed = n_estimators, max_depth, seed
        self.model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1)

    def get_config(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "max_depth": self.max_depth, "seed": self.seed}

    def get_state(self) -> dict[str, Any]:
        return {"model": self.model}

    def set_state(self, state: dict[str, Any]) -> None:
        self.model = state["model"]

    def clone(self) -> PlacementRanker:
        return PlacementRanker(**copy.deepcopy(self.get_config()))

    def fit(self, estate: Estate, csets: dict[str, CandidateSet], plan: PlacementPlan) -> PlacementRanker:
        vol = _volumes(estate)
        xs: list[np.ndarray] = []
        ys: list[int] = []
        chosen = {a.workload: {p.location for p in a.placements} for a in plan.assignments}
        for name, cs in csets.items():
            if cs.workload.spread is not None:
                continue
            xs.append(_features(cs, vol.get(name, 0.0)))
            ys.extend(1 if str(c.location) in chosen[name] else 0 for c in cs.candidates)
        self.model.fit(np.vstack(xs), np.array(ys))
        return self

    def predict(self, estate: Estate, csets: dict[str, CandidateSet]) -> dict[str, str]:
        """The model's own pick (location text) for every workload without a spread rule."""
        vol = _volumes(estate)
        names = [n for n, cs in csets.items() if cs.workload.spread is None]
        if not names:
            return {}
        blocks = [_features(csets[n], vol.get(n, 0.0)) for n in names]
        proba = self.model.predict_proba(np.vstack(blocks))
        col = list(self.model.classes_).index(1) if 1 in self.model.classes_ else 0
        out, start = {}, 0
        for n, b in zip(names, blocks, strict=True):
            part = proba[start : start + len(b), col]
            out[n] = str(csets[n].candidates[int(np.argmax(part))].location)
            start += len(b)
        return out


def _volumes(estate: Estate) -> dict[str, float]:
    vol: dict[str, float] = {}
    for p in estate.egress:
        vol[p.src] = vol.get(p.src, 0.0) + p.gb_per_hour
        vol[p.dst] = vol.get(p.dst, 0.0) + p.gb_per_hour
    return vol

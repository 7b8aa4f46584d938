"""The honest development protocol for root cause: leave one system out, choices made in training folds only.

Systems: Sock Shop (RCD), PetShop, Nezha Online Boutique.  The configuration grid is small and written down
(:data:`GRID`): the tail quantile of the scale floor (or none), how a service's metrics combine, and whether
the metric kinds are weighed by weights fitted on data.  For each held-out system, every configuration is
scored on the *other* systems (kind weights fitted on those systems only), the best is chosen there (mean
Avg@5 over the training systems, then mean AC@1, then the earlier grid entry; the grid starts with the
default the issue describes, so a tie keeps it) and only that one is run on
the held-out system: figure (b).  Figure (a) is the configuration chosen the same way on all three systems,
with weights fitted on all three, scored on each: the shipped defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hx.heal.rca_kinds import fit_kind_weights


@dataclass(frozen=True)
class Config:
    """One entry of the grid: ``tail_quantile`` 1.0 means no tail floor."""

    tail_quantile: float
    combine: str
    fit_weights: bool

    @property
    def label(self) -> str:
        tail = "no tail floor" if self.tail_quantile >= 1.0 else f"tail q{self.tail_quantile:g}"
        return f"{tail}, {self.combine}, {'fitted' if self.fit_weights else 'equal'} kind weights"


#: The default the issue asks for comes first (tail floor at the 0.95 quantile, family combination, fitted kind
#: weights): on a tie it is kept, so an alternative must do better on the training systems to be chosen.
DEFAULT = Config(0.95, "family", True)
_OTHERS = [Config(q, c, w) for q in (1.0, 0.9, 0.95, 0.99) for c in ("max", "family") for w in (False, True)]
GRID = (DEFAULT, *(cfg for cfg in _OTHERS if cfg != DEFAULT))

#: rows of one system: the list ``evaluate`` returns
Rows = list[dict[str, Any]]


@dataclass
class Runner:
    """Runs a configuration on a system, caching runs that do not depend on the fold."""

    cases: Mapping[str, Any]  # system -> list of bench cases
    variants: Mapping[str, Any]  # system -> the primary variant
    evaluate: Any  # bench.rca.evaluate
    threshold: float = 3.0

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, Config, tuple[tuple[str, float], ...]], Rows] = {}
        self._evidence: dict[tuple[str, float], Rows] = {}

    def rows(self, system: str, cfg: Config, weights: Mapping[str, float]) -> Rows:
        key = (system, cfg, tuple(sorted(weights.items())))
        if key not in self._cache:
            opts = {"tail_quantile": cfg.tail_quantile, "combine": cfg.combine, "kind_weights": dict(weights)}
            self._cache[key] = self.evaluate(self.cases[system], self.variants[system], opts)
        return self._cache[key]

    def weights(self, systems: Sequence[str], cfg: Config) -> dict[str, float]:
        """Kind weights fitted on ``systems`` (equal weights when the configuration does not fit them)."""
        if not cfg.fit_weights:
            return {}
        data: list[tuple[str, Mapping[str, Any]]] = []
        for s in systems:
            key = (s, cfg.tail_quantile)
            if key not in self._evidence:
                opts = {"tail_quantile": cfg.tail_quantile, "combine": "max", "kind_weights": {}}
                self._evidence[key] = self.evaluate(self.cases[s], self.variants[s], opts, evidence=True)
            data.extend((r["truth"], r["evidence"]) for r in self._evidence[key])
        return fit_kind_weights(data, self.threshold)


def _figures(rows: Rows) -> tuple[float, float]:
    ranks = np.array([r["rank"] for r in rows])
    return float(np.mean([np.mean(ranks <= k) for k in range(1, 6)])), float(np.mean(ranks <= 1))


def choose(runner: Runner, systems: Sequence[str]) -> tuple[Config, dict[str, float]]:
    """The grid entry that scores best on ``systems`` (weights fitted on them), and its weights."""
    best: tuple[float, float] | None = None
    chosen: tuple[Config, dict[str, float]] = (GRID[0], {})
    for cfg in GRID:
        w = runner.weights(systems, cfg)
        figs = [_figures(runner.rows(s, cfg, w)) for s in systems]
        score = (float(np.mean([f[0] for f in figs])), float(np.mean([f[1] for f in figs])))
        if best is None or score > best:
            best, chosen = score, (cfg, w)
    return chosen


def leave_one_system_out(runner: Runner) -> dict[str, Any]:
    """Figures (b) per held-out system and (a) on all data, with the choices made for each."""
    systems = list(runner.cases)
    out: dict[str, Any] = {"cv": {}, "all_data": {}}
    for held in systems:
        train = [s for s in systems if s != held]
        cfg, w = choose(runner, train)
        out["cv"][held] = {"config": cfg.label, "kind_weights": w, "rows": runner.rows(held, cfg, w)}
    cfg, w = choose(runner, systems)
    out["all_data"] = {"config": cfg.label, "kind_weights": w, "tail_quantile": cfg.tail_quantile}
    out["all_data"]["combine"] = cfg.combine
    out["all_data"]["rows"] = {s: runner.rows(s, cfg, w) for s in systems}
    return out

"""Sequential canary judgement: analyse at every canary step without inflating the false-positive rate.

Group-sequential testing with an alpha-spending function (Lan and DeMets) over a known maximum number of looks
``K``.  At look ``k`` (information fraction ``t_k = k/K``, or points so far / ``planned_points``) each metric's
fixed-sample test statistic is compared with a boundary ``c_k`` chosen so that, for a statistic behaving like
Brownian motion in information time, the probability of crossing any boundary up to ``t_k`` under no effect is
the spent ``alpha(t_k)``; the total over all looks is the metric's ``alpha``.  Boundaries come from the exact
recursive integration of the continuation density (Armitage, McPherson and Rowe), so they hold for unequal looks
and skipped looks (a look where a metric is inconclusive spends nothing).

A metric that crosses its boundary fails at once; a judgement whose combination fails (critical metric, or score
below the marginal threshold) stops: the canary is rolled back at the earliest step.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> sj = SequentialJudge(JudgeConfig(metrics=[MetricConfig(name="latency")]), looks=4)
>>> for k in range(4):
...     sv = sj.update({"latency": rng.normal(100, 10, 20)}, {"latency": rng.normal(150, 10, 20)})
...     if sv.stop:
...         break
>>> sv.look, sv.verdict.status
(1, 'fail')
>>> [round(z, 3) for z in boundaries((0.5, 1.0), 0.025, "obf")]
[2.963, 1.969]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import optimize, stats

from hx.deploy.judge import MetricVerdict, Verdict, combine, judge_metric
from hx.deploy.judge_config import JudgeConfig, MetricConfig
from hx.deploy.judge_stats import FloatArray, History
from hx.errors import BadInput, Conflict

Spending = Literal["pocock", "obf"]
_LOW = -10.0  # lower edge of the integration grid on the Brownian scale (the density is negligible below)
_STEP = 0.02


def spent(t: float, alpha: float, spending: Spending) -> float:
    """Cumulative one-sided alpha spent by information fraction ``t`` (Lan-DeMets Pocock or O'Brien-Fleming type).

    >>> round(spent(1.0, 0.01, "pocock"), 6), round(spent(1.0, 0.01, "obf"), 6)
    (0.01, 0.01)
    """
    t = min(max(t, 0.0), 1.0)
    if t == 0.0:
        return 0.0
    if spending == "pocock":
        return alpha * math.log(1.0 + (math.e - 1.0) * t)
    return float(2.0 * stats.norm.sf(stats.norm.isf(alpha / 2.0) / math.sqrt(t)))


def _exit_prob(b: float, grid: FloatArray, dens: FloatArray, sd: float) -> float:
    return float(np.sum(dens * stats.norm.sf((b - grid) / sd)))


def _excess(b: float, grid: FloatArray, dens: FloatArray, sd: float, target: float) -> float:
    return _exit_prob(b, grid, dens, sd) - target


@lru_cache(maxsize=512)
def boundaries(ts: tuple[float, ...], alpha: float, spending: Spending = "pocock") -> tuple[float, ...]:
    """One-sided upper z boundaries for looks at information fractions ``ts`` (increasing, in (0, 1]).

    >>> round(boundaries((1.0,), 0.01)[0], 4) == round(float(stats.norm.isf(0.01)), 4)
    True
    """
    if not ts or any(b <= a for a, b in itertools.pairwise(ts)) or ts[0] <= 0 or ts[-1] > 1:
        raise BadInput(f"information fractions must increase within (0, 1]: {ts}", field="looks")
    zs: list[float] = []
    grid = np.zeros(1)
    dens = np.ones(1)  # probability masses (already times the grid step) of the continuation region
    t_prev = 0.0
    for t in ts:
        target = spent(t, alpha, spending) - spent(t_prev, alpha, spending)
        sd = math.sqrt(t - t_prev)
        hi = _LOW + 30.0
        if target <= 1e-15 or _exit_prob(hi, grid, dens, sd) >= target:
            b = math.inf
        else:
            b = float(optimize.brentq(_excess, _LOW, hi, args=(grid, dens, sd, target), xtol=1e-9))
        zs.append(b / math.sqrt(t))
        top = min(b, hi)
        new_grid = np.arange(_LOW, top, _STEP) + _STEP / 2.0
        kernel = stats.norm.pdf((new_grid[:, None] - grid[None, :]) / sd) / sd
        dens = kernel @ dens * _STEP
        grid, t_prev = new_grid, t
    return tuple(zs)


class SequentialVerdict(BaseModel):
    """The judgement after one look.

    ``stop`` = the judgement failed: roll the canary back now.  ``final`` = the last planned look.  Before the
    last look a non-failing verdict is provisional.
    """

    model_config = ConfigDict(frozen=True)

    look: int
    looks: int
    stop: bool
    final: bool
    boundaries: dict[str, float]
    verdict: Verdict


class SequentialJudge:
    """Judge a canary at every step with group-sequential boundaries (see the module docstring).

    ``looks`` is the maximum number of analyses (one per :meth:`update`); ``planned_points`` (per series), when
    given, sets the information fraction by points seen instead of ``look / looks``.  ``history``: pre-canary
    baseline values per metric, as for :func:`hx.deploy.judge.judge`.  Each look's chunks are a stratum.
    """

    def __init__(
        self,
        config: JudgeConfig,
        looks: int,
        spending: Spending = "pocock",
        planned_points: int | None = None,
        history: Mapping[str, History] | None = None,
    ) -> None:
        if looks < 1:
            raise BadInput("looks must be >= 1", field="looks")
        if planned_points is not None and planned_points < 1:
            raise BadInput("planned_points must be >= 1", field="planned_points")
        self.config = config
        self.looks = looks
        self.spending: Spending = spending
        self.planned_points = planned_points
        self.history = history
        self.look = 0
        self.stopped = False
        self._base: dict[str, list[FloatArray]] = {}
        self._can: dict[str, list[FloatArray]] = {}
        self._ts: dict[str, list[float]] = {m.name: [] for m in config.metrics}
        self._failed: dict[str, MetricVerdict] = {}

    def _names(self) -> list[str]:
        names = [m.name for m in self.config.metrics]
        names += [m.denominator for m in self.config.metrics if m.denominator]
        return names

    def _append(self, baseline: Mapping[str, FloatArray], canary: Mapping[str, FloatArray]) -> None:
        for name in self._names():
            for which, data, store in (("baseline", baseline, self._base), ("canary", canary, self._can)):
                if name not in data:
                    raise BadInput(f"metric {name!r} is configured but absent from the {which} chunk", field=name)
                store.setdefault(name, []).append(np.asarray(data[name], dtype=np.float64).ravel())

    def _fraction(self) -> float:
        if self.look == self.looks:
            return 1.0
        if self.planned_points is None:
            return self.look / self.looks
        n = min(sum(a.size for a in self._can[m.name]) for m in self.config.metrics)
        return min(max(n / self.planned_points, 1e-6), 1.0)

    def _test(
        self, cfg: MetricConfig, t: float, data: tuple[dict[str, list[FloatArray]], dict[str, list[FloatArray]]]
    ) -> tuple[MetricVerdict, float]:
        alpha = cfg.alpha if cfg.alpha is not None else self.config.alpha
        tail = alpha / 2.0 if cfg.direction == "either" else alpha
        hist = self._ts[cfg.name]
        ts = (*hist, t) if not hist or t > hist[-1] else (*hist[:-1], t)
        z = boundaries(tuple(ts), tail, self.spending)[-1]
        nominal = float(stats.norm.sf(z)) * (2.0 if cfg.direction == "either" else 1.0)
        res = judge_metric(cfg.model_copy(update={"alpha": nominal}), data[0], data[1], self.config.alpha, self.history)
        if res.status != "inconclusive":
            self._ts[cfg.name] = list(ts)
        return res.model_copy(update={"alpha": alpha}), z

    def update(
        self, baseline_chunk: Mapping[str, FloatArray], canary_chunk: Mapping[str, FloatArray]
    ) -> SequentialVerdict:
        """Add the next step's per-interval values and judge everything seen so far."""
        if self.stopped:
            raise Conflict("the sequential judgement has already stopped; start a new SequentialJudge")
        if self.look >= self.looks:
            raise Conflict(f"all {self.looks} planned looks are used; start a new SequentialJudge")
        self._append(baseline_chunk, canary_chunk)
        self.look += 1
        t = self._fraction()
        data = (dict(self._base), dict(self._can))  # one window per look: each look's pair is a stratum
        metrics: list[MetricVerdict] = []
        zs: dict[str, float] = {}
        for cfg in self.config.metrics:
            if cfg.name in self._failed:
                metrics.append(self._failed[cfg.name])
                continue
            res, zs[cfg.name] = self._test(cfg, t, data)
            if res.status == "fail":
                self._failed[cfg.name] = res
            metrics.append(res)
        verdict = combine(self.config, metrics)
        final = self.look == self.looks
        stop = verdict.status == "fail"
        self.stopped = stop or final
        return SequentialVerdict(
            look=self.look,
            looks=self.looks,
            stop=stop,
            final=final,
            boundaries={k: v for k, v in zs.items() if math.isfinite(v)},
            verdict=verdict,
        )

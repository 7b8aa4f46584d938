"""The calibrated mode's ``alpha``, chosen by the scaler itself from a service's own recent history (pure).

Two parts:

- :func:`choose_alpha`, the rule (the benchmark's and the engine's): the SLO-safe prefix of the
  candidate alphas, then the cheapest within a cost margin of the HPA reference, found by bisection;
- the *what-if*: :func:`whatif_calibrated` replays the engine's own :class:`~hx.scale.scaler.ServiceScaler`
  (forecaster and conformal bound, causally: at each minute it has seen only the 5-minute buckets that
  are over) over the last days of a request-rate history, and :func:`whatif_hpa` the HPA reference
  (:class:`~hx.scale.hpa.HpaPolicy`) over the same demand -- no simulator.  The demand of each minute is
  the demand the scaler saw at that minute, where it kept it (``seen``: the engine keeps what it decided
  on), else the history's 5-minute means interpolated between bucket centres -- which hide the
  minute-to-minute swings a scaler deciding every minute meets; a replica added at minute ``m`` serves
  from ``m + startup``; a minute is an SLO-violation minute when its demand is above what the replicas
  then ready serve at ``serve_utilization`` of their capacity (the utilisation past which a replica's
  p99 breaks its SLO); replica-hours count every replica asked for, ready or not.

:func:`auto_alpha` puts them together: the alpha for the days to come, from the last ``days`` of the
history (the calibration warmed up for a day before them), with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput
from hx.scale.hpa import HpaPolicy
from hx.scale.scaler import DEFAULT_ALPHA, ScalerConfig, ServiceProfile, ServiceScaler

if TYPE_CHECKING:
    from hx.forecast.base import Forecast

FloatArray = npt.NDArray[np.float64]
Outcome = tuple[float, float]  # (SLO-violation minutes, replica-hours)

#: the calibration's exceedance rates tried, most cautious first; up to 0.3, so the bound stays well above the
#: errors' median (the grid ended at 0.14 until 2026-12-05, where series with SLO headroom to spare, such as NAB's ELB
#: request counts, had no alpha within HPA's replica-hours and the rule gave up the cost half)
ALPHAS: tuple[float, ...] = (0.001, 0.003, 0.01, 0.02, 0.035, 0.05, 0.07, 0.085, 0.1, 0.14, 0.2, 0.25, 0.3)
#: SLO half: violations + SLO_Z x sqrt(violations) within half of HPA's (Poisson room)
SLO_Z = 2.0
#: cost half: replica-hours at most (1 - COST_MARGIN) x HPA's
COST_MARGIN = 0.02
#: the calibration runs this long before the judged days (its own errors to start from); not counted
WARMUP_S = 86400.0
#: the history a choice needs before the judged days begin (the forecaster's fit), beyond the warm-up
MIN_FIT_S = 86400.0
#: a replica's utilisation past which its p99 breaks the SLO (M/M/1 replicas, SLO 1.2x the p99 at 80 %)
SERVE_UTILIZATION = 0.85
HPA_TARGET = 0.7
MINUTE = 60.0


def choose_alpha(alphas: Sequence[float], evaluate: Callable[[float], Outcome], hpa: Outcome) -> float:
    """The calibration's ``alpha`` by the rule (pure given ``evaluate``; it is called lazily).

    1. *SLO-safe*: violations ``v`` with ``v + SLO_Z sqrt(v) <= 0.5 x`` HPA's (``v == 0`` when HPA has
       none) -- the target's SLO half with room for the count's own noise;
    2. among the SLO-safe ``alpha`` (a prefix of ``alphas``: violations grow with ``alpha``), the smallest
       whose replica-hours are at most ``(1 - COST_MARGIN)`` x HPA's (cost falls with ``alpha``) -- the
       most SLO headroom that still leaves the cost half some room; when none does, the cheapest
       SLO-safe one;
    3. when the most cautious ``alpha`` is not SLO-safe, every ``alpha`` is tried: violations need not grow
       with ``alpha`` (on a service HPA rarely fails, the most cautious can miss more than the next), so
       1 and 2 are applied to the SLO-safe ones wherever they are; when none is, the one with the fewest
       violations among those within HPA's replica-hours is taken (the cheaper on a tie), and when none is
       that cheap, the fewest violations of all.

    The searches of 1 and 2 are bisections over ``alphas`` (sorted ascending), so few evaluations are needed.

    >>> outcomes = {0.01: (2.0, 110.0), 0.02: (4.0, 100.0), 0.05: (9.0, 95.0), 0.1: (30.0, 90.0)}
    >>> choose_alpha(list(outcomes), outcomes.__getitem__, (40.0, 100.0))
    0.05
    >>> missed = {0.001: (4.0, 101.0), 0.003: (2.0, 99.0), 0.01: (3.0, 97.0)}
    >>> choose_alpha(list(missed), missed.__getitem__, (1.0, 100.0))
    0.003
    """
    a = sorted(alphas)
    if not a:
        raise BadInput("need at least one alpha to choose from", field="alphas")
    seen: dict[float, Outcome] = {}

    def out(i: int) -> Outcome:
        if a[i] not in seen:
            seen[a[i]] = evaluate(a[i])
        return seen[a[i]]

    def safe(i: int) -> bool:
        v = out(i)[0]
        return v == 0 if hpa[0] <= 0 else v + SLO_Z * math.sqrt(v) <= 0.5 * hpa[0]

    def cheap(i: int) -> bool:
        return out(i)[1] <= (1.0 - COST_MARGIN) * hpa[1]

    if not safe(0):  # violations did not grow from here: try them all
        ok = [i for i in range(len(a)) if safe(i)]
        if not ok:
            return _fewest_violations(a, [out(i) for i in range(len(a))], hpa)
        return a[next((i for i in ok if cheap(i)), min(ok, key=lambda i: (out(i)[1], a[i])))]
    top = _first_true(lambda i: not safe(i), 0, len(a) - 1) - 1
    if not cheap(top):
        return a[top]
    return a[_first_true(cheap, 0, top)]


def _fewest_violations(alphas: Sequence[float], outcomes: Sequence[Outcome], hpa: Outcome) -> float:
    """The ``alpha`` with the fewest violations among those within HPA's replica-hours, else of all; ties go to
    the cheaper, then the more cautious."""
    pairs = list(zip(alphas, outcomes, strict=True))
    within = [p for p in pairs if p[1][1] <= hpa[1]] or pairs
    return min(within, key=lambda p: (p[1][0], p[1][1], p[0]))[0]


def _first_true(pred: Callable[[int], bool], lo: int, hi: int) -> int:
    """The first index in ``[lo, hi]`` where ``pred`` (false, then true) holds; ``hi + 1`` if none does."""
    if not pred(hi):
        return hi + 1
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if pred(mid) else (mid + 1, hi)
    return lo


# ---- the what-if ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIf:
    """One policy's outcome over the judged minutes of a what-if."""

    slo_violation_minutes: float
    replica_hours: float
    actions: int

    @property
    def outcome(self) -> Outcome:
        return (self.slo_violation_minutes, self.replica_hours)


@dataclass(frozen=True)
class Demand:
    """A what-if's input: the 5-minute history (bucket-end stamps) and the minute demand derived from it.

    ``start`` is the first judged minute; minutes before it (from ``begin``) are the warm-up.
    """

    ts: FloatArray
    rps: FloatArray
    grid_s: float
    begin: float
    start: float
    minutes: FloatArray
    demand: FloatArray
    #: how many of the minutes carry the demand the scaler saw (the rest: interpolated 5-minute means)
    seen_minutes: int = 0

    @property
    def judged(self) -> npt.NDArray[np.bool_]:
        return self.minutes > self.start + 1e-6


def demand_for(
    ts: npt.ArrayLike, rps: npt.ArrayLike, grid_s: float, days: float, warmup_s: float,
    seen: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> Demand:  # fmt: skip
    """The last ``days`` of a regular 5-minute history as per-minute demand, with ``warmup_s`` before them.

    ``seen``: (times, values) of the demand the scaler decided on; a minute takes the latest of them within
    it (:func:`overlay_seen`), the others the 5-minute means interpolated."""
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(rps, dtype=np.float64)
    ok = np.isfinite(v) & (v >= 0)
    if ok.sum() < 2:
        raise BadInput("the what-if needs request-rate history; there is none", field="history")
    end = float(t[-1])
    start = math.floor((end - days * 86400.0) / grid_s) * grid_s
    begin = start - warmup_s
    first = float(t[0]) - grid_s  # the first bucket's start
    if begin - first < MIN_FIT_S - 1e-6:
        have = (end - first) / 86400.0
        raise BadInput(
            f"the what-if of {days:g} days needs {days + (warmup_s + MIN_FIT_S) / 86400.0:g} days of history, "
            f"has {have:.2f}",
            field="history",
        )
    minutes = np.arange(begin + MINUTE, end + 1e-6, MINUTE)
    centres = t[ok] - grid_s / 2.0
    demand = np.interp(minutes, centres, v[ok])
    covered = 0
    if seen is not None:
        demand, covered = overlay_seen(minutes, demand, *seen)
    return Demand(t, v, grid_s, begin, start, minutes, demand, covered)


def overlay_seen(
    minutes: FloatArray, demand: FloatArray, seen_t: npt.ArrayLike, seen_v: npt.ArrayLike
) -> tuple[FloatArray, int]:
    """``demand`` with each minute ``m`` replaced by the latest seen value in ``(m - 60 s, m]`` (non-finite and
    negative values skipped); and how many minutes were replaced.

    >>> d, n = overlay_seen(np.array([60.0, 120.0, 180.0]), np.array([1.0, 1.0, 1.0]), [100.0, 119.0], [5.0, 7.0])
    >>> d.tolist(), n
    ([1.0, 7.0, 1.0], 1)
    """
    t = np.asarray(seen_t, dtype=np.float64).ravel()
    v = np.asarray(seen_v, dtype=np.float64).ravel()
    if t.shape != v.shape:
        raise BadInput(f"{t.size} times but {v.size} values of seen demand", field="seen")
    ok = np.isfinite(t) & np.isfinite(v) & (v >= 0)
    t, v = t[ok], v[ok]
    out = np.array(demand, dtype=np.float64, copy=True)
    if t.size == 0:
        return out, 0
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    i = np.searchsorted(t, minutes + 1e-6, side="right") - 1
    has = i >= 0
    idx = np.where(has, i, 0)
    has &= t[idx] > minutes - MINUTE + 1e-6
    out[has] = v[idx[has]]
    return out, int(has.sum())


def _score(d: Demand, desired: FloatArray, capacity: float, startup_s: float, serve_utilization: float) -> WhatIf:
    """Violations (demand above what the ready replicas serve) and replica-hours over the judged minutes."""
    lag = math.ceil(startup_s / MINUTE - 1e-9)
    before = np.concatenate([np.full(lag, desired[0]), desired[: desired.size - lag]]) if lag else desired
    ready = np.minimum(desired, before)
    j = d.judged
    short = d.demand[j] > ready[j] * capacity * serve_utilization + 1e-9
    changes = int(np.count_nonzero(np.diff(desired)[j[1:]]))
    return WhatIf(float(short.sum()), float(desired[j].sum()) / 60.0, changes)


def _start_replicas(d: Demand, capacity: float, utilization: float) -> int:
    from hx.scale.policy import replicas_for

    return max(1, replicas_for(float(d.demand[0]), capacity, utilization))


def whatif_hpa(
    d: Demand, profile: ServiceProfile, *, min_replicas: int = 1, max_replicas: int = 1000,
    serve_utilization: float = SERVE_UTILIZATION,
) -> WhatIf:  # fmt: skip
    """The HPA reference over ``d``: its utilisation (demand over all replicas asked for) at four 15-second
    syncs a minute."""
    cap = _capacity(profile)
    hpa = HpaPolicy(target=HPA_TARGET, min_replicas=min_replicas, max_replicas=max_replicas)
    reps = _start_replicas(d, cap, HPA_TARGET)
    desired = np.empty(d.minutes.size)
    for k, (m, dem) in enumerate(zip(d.minutes, d.demand, strict=True)):
        for s in range(4):
            reps = hpa.decide(float(m) + 15.0 * s, reps, float(dem) / (max(reps, 1) * cap))
        desired[k] = reps
    return _score(d, desired, cap, profile.startup_s, serve_utilization)


def whatif_calibrated(
    d: Demand, profile: ServiceProfile, alpha: float, config: ScalerConfig, *,
    serve_utilization: float = SERVE_UTILIZATION, forecasts: Sequence[Forecast | None] | None = None,
) -> WhatIf:  # fmt: skip
    """The engine's calibrated scaler with ``alpha`` over ``d``: fitted on the history before ``d.begin``,
    then fed each 5-minute bucket once it is over, deciding every minute on that minute's demand.

    ``forecasts``: :func:`forecasts_for` ``d`` (the forecaster does not depend on ``alpha``: computed once,
    shared by every candidate)."""
    cap = _capacity(profile)
    fcs = forecasts if forecasts is not None else forecasts_for(d, profile, config)
    scaler = ServiceScaler(profile, replace(config, calibration_alpha=alpha))
    reps = _start_replicas(d, cap, config.max_utilization)
    desired = np.empty(d.minutes.size)
    for k, (m, dem) in enumerate(zip(d.minutes, d.demand, strict=True)):
        reps = scaler.decide_on(float(m), reps, float(dem), fcs[k]).replicas
        desired[k] = reps
    return _score(d, desired, cap, profile.startup_s, serve_utilization)


def forecasts_for(d: Demand, profile: ServiceProfile, config: ScalerConfig) -> list[Forecast | None]:
    """The engine's forecast at each minute of ``d`` (causal: a bucket is seen once it is over), refitted at
    most daily (a what-if of a week would otherwise spend most of its time fitting)."""
    scaler = ServiceScaler(profile, replace(config, refit_s=max(config.refit_s, 86400.0)))
    before = d.ts <= d.begin + 1e-6
    scaler.observe(d.ts[before], d.rps[before])
    feed = {float(t): float(v) for t, v in zip(d.ts[~before], d.rps[~before], strict=True)}
    out: list[Forecast | None] = []
    for m in d.minutes:
        now = float(m)
        if now in feed:
            scaler.observe([now], [feed[now]])
        out.append(scaler.forecast(now))
    return out


def _capacity(profile: ServiceProfile) -> float:
    cap = profile.capacity_rps
    if cap is None or not (math.isfinite(cap) and cap > 0):
        raise BadInput(f"the what-if needs the service's capacity per replica, got {cap}", field="capacity_rps")
    return float(cap)


# ---- the engine's choice --------------------------------------------------------------------------


@dataclass(frozen=True)
class AlphaChoice:
    """An ``alpha`` chosen for a service, with why, what was tried and the HPA reference it was held to."""

    alpha: float
    reason: str
    chosen: bool
    window: tuple[float, float] | None = None
    hpa: Outcome | None = None
    tried: dict[float, Outcome] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "reason": self.reason,
            "chosen": self.chosen,
            "window": [_iso(t) for t in self.window] if self.window else None,
            "hpa": None if self.hpa is None else {"slo_violation_minutes": self.hpa[0],
                                                   "replica_hours": round(self.hpa[1], 1)},
            "tried": [{"alpha": a, "slo_violation_minutes": o[0], "replica_hours": round(o[1], 1)}
                      for a, o in sorted(self.tried.items())],
        }  # fmt: skip


def _iso(t: float) -> str:
    """Unix seconds as ISO 8601 (UTC, to the second), as every other time hx prints."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def history_needed_s(days: float, warmup_s: float = WARMUP_S) -> float:
    """The history :func:`auto_alpha` needs to judge ``days`` (the fit, the warm-up and the days)."""
    return MIN_FIT_S + warmup_s + days * 86400.0


def auto_alpha(
    ts: npt.ArrayLike, rps: npt.ArrayLike, profile: ServiceProfile, config: ScalerConfig, *,
    days: float = 7.0, previous: float | None = None, alphas: Sequence[float] = ALPHAS,
    warmup_s: float = WARMUP_S, serve_utilization: float = SERVE_UTILIZATION,
    seen: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
) -> AlphaChoice:  # fmt: skip
    """The alpha for the days to come, by :func:`choose_alpha` over what-ifs of the last ``days`` of history
    (fewer when the history is shorter, down to one day); with too little history, ``previous`` or
    :data:`DEFAULT_ALPHA`, saying so.  ``seen``: the demand the scaler decided on, minute by minute, which
    the what-ifs replay where it covers them (see :func:`demand_for`)."""
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(rps, dtype=np.float64)
    have = float(np.isfinite(v).sum()) * config.grid_s
    span = (float(t[-1]) - float(t[0]) + config.grid_s) if t.size else 0.0
    usable = min(days, math.floor((min(have, span) - MIN_FIT_S - warmup_s) / 86400.0))
    if usable < 1:
        keep = previous if previous is not None else DEFAULT_ALPHA
        why = "the previous choice" if previous is not None else "the conservative default"
        need = history_needed_s(1.0, warmup_s) / 86400.0
        text = f"kept {keep:g} ({why}): {have / 86400.0:.1f} days of request-rate history, a choice needs {need:g}"
        return AlphaChoice(keep, text, False)
    d = demand_for(t, v, config.grid_s, usable, warmup_s, seen)
    lim = {"min_replicas": config.min_replicas, "max_replicas": config.max_replicas}
    hpa = whatif_hpa(d, profile, serve_utilization=serve_utilization, **lim).outcome
    fcs = forecasts_for(d, profile, config)
    tried: dict[float, Outcome] = {}

    def evaluate(a: float) -> Outcome:
        w = whatif_calibrated(d, profile, a, config, serve_utilization=serve_utilization, forecasts=fcs)
        tried[a] = w.outcome
        return tried[a]

    alpha = choose_alpha(alphas, evaluate, hpa)
    v_a, rh = tried[alpha]
    basis = _basis(d)
    text = (
        f"chose {alpha:g} on the last {usable:g} day{'' if usable == 1 else 's'} (what-if on {basis}): "
        f"{v_a:.0f} SLO-violation min and {rh:.1f} replica-h against HPA's {hpa[0]:.0f} and {hpa[1]:.1f}; "
        f"{_verdict(alpha, tried, hpa)}"
    )
    return AlphaChoice(alpha, text, True, (d.start, float(t[-1])), hpa, tried)


def _basis(d: Demand) -> str:
    share = d.seen_minutes / d.minutes.size if d.minutes.size else 0.0
    if share >= 0.995:
        return "the demand seen each minute"
    if share > 0:
        return f"the demand seen each minute ({share:.0%} of the minutes; the rest 5-minute means)"
    return "5-minute means"


def _verdict(alpha: float, tried: dict[float, Outcome], hpa: Outcome) -> str:
    v, rh = tried[alpha]
    safe = v == 0 if hpa[0] <= 0 else v + SLO_Z * math.sqrt(v) <= 0.5 * hpa[0]
    if not safe:
        if rh <= hpa[1]:
            return "no alpha tried halves HPA's violations: the fewest violations within HPA's replica-hours"
        return "no alpha tried halves HPA's violations or stays within HPA's replica-hours: the fewest violations"
    none = " (HPA had no violation minute: SLO-safe means none either)" if hpa[0] <= 0 else ""
    if rh <= (1.0 - COST_MARGIN) * hpa[1]:
        return f"the most cautious SLO-safe alpha within {1 - COST_MARGIN:g} x HPA's replica-hours{none}"
    return f"no SLO-safe alpha is within {1 - COST_MARGIN:g} x HPA's replica-hours: the cheapest SLO-safe one{none}"

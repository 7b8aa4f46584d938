"""Right-sizing: CPU and memory recommendations from usage history, their saving in USD and their risk.

Per workload (:func:`recommend`), in the manner of the Kubernetes VPA recommender: usage samples go into
a *decaying histogram* (exponential buckets, weight halving every ``half_life_s``), the target is a
percentile of it (CPU p90; memory: the peak, i.e. p100 of the decayed samples) times ``1 + margin``.
On top of VPA it is aware of

- **daily/weekly cycles**: the percentile is read in the busiest hour-of-day bucket (weekday and
  weekend apart with two weeks of data), so quiet nights do not dilute the peak hours; and
- **trend**: a robust (Theil-Sen) slope of the daily percentiles, projected ``trend_horizon_s`` ahead,
  scales the recommendation (bounded to x0.8..x1.5).

Memory is a working set, not a load: going over it is an out-of-memory kill, not a slowdown.  So a
memory recommendation takes a growing trend but never a shrinking one, and it is never below the
working set's peak over the last ``RECENT_PEAK_S`` (a level the workload has just needed).

Every recommendation is rounded up (CPU to millicores, memory to MiB) and held at least at VPA's default
minimums, ``MIN_CPU`` (25 millicores) and ``MIN_MEMORY_GIB`` (250 MiB), see :func:`settle`.

The *risk* is the share of history intervals whose usage exceeds the recommendation (for memory: the
intervals that would have run out of memory).

For a fleet, :func:`allocate_risk` spends one pooled exceed budget where it buys the most capacity:
it picks each workload's level to minimise the total provisioned capacity subject to the pooled share
of over-limit intervals staying within ``risk_budget`` (a Lagrangian split of the budget: flat
workloads get a near-peak level, heavy bursty ones a lower percentile).  A fixed per-workload rule such
as VPA's p90 x 1.15 spends the same percentile everywhere, which costs capacity on large workloads
and risk on spiky small ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput

FloatArray = npt.NDArray[np.float64]
HOURS_PER_MONTH = 730.0
DAY_S = 86400.0

#: the smallest CPU recommended, vCPU: VPA's default ``--pod-recommendation-min-cpu-millicores=25``
MIN_CPU = 0.025
#: the smallest memory recommended, GiB: VPA's default ``--pod-recommendation-min-memory-mb=250`` (MiB)
MIN_MEMORY_GIB = 250 / 1024
#: memory is never recommended below the working set's peak over this last stretch of history
RECENT_PEAK_S = DAY_S


def settle(cpu: float, memory_gib: float) -> tuple[float, float]:
    """Round a recommendation up (CPU to millicores, memory to MiB) and hold it at the floors.

    >>> settle(1.44e-06, 0.1)
    (0.025, 0.244140625)
    >>> settle(0.5901, 1.0001)
    (0.591, 1.0009765625)
    """
    return float(settle_levels(np.array([cpu]), "cpu")[0]), float(settle_levels(np.array([memory_gib]), "memory")[0])


def settle_levels(levels: FloatArray, resource: str) -> FloatArray:
    """:func:`settle` for many levels of one resource (``"cpu"``: vCPU, ``"memory"``: GiB)."""
    unit, floor = (1000.0, MIN_CPU) if resource == "cpu" else (1024.0, MIN_MEMORY_GIB)
    return np.maximum(np.ceil(np.asarray(levels, dtype=np.float64) * unit - 1e-6) / unit, floor)


def recent_peak(ts: FloatArray, values: FloatArray, window_s: float = RECENT_PEAK_S) -> float:
    """The highest sample in the last ``window_s`` of real (non-NaN) samples (0 when there are none).

    >>> recent_peak(np.arange(5) * DAY_S, np.array([9.0, 1.0, 2.0, 3.0, np.nan]))
    3.0
    """
    ok = np.isfinite(values) & np.isfinite(ts)
    if not ok.any():
        return 0.0
    t, v = ts[ok], values[ok]
    return float(np.max(v[t >= t[-1] - window_s]))


@dataclass(frozen=True)
class Prices:
    """Prices per vCPU-hour and per GiB-hour.

    Defaults: GCP E2 custom machine types, on-demand, us-central1 (0.021811 USD per vCPU-hour and
    0.002923 USD per GiB-hour), a neutral middle of the big three clouds' general-purpose prices.
    """

    vcpu_hour: float = 0.021811
    gib_hour: float = 0.002923

    def monthly(self, vcpu: float, gib: float) -> float:
        return HOURS_PER_MONTH * (vcpu * self.vcpu_hour + gib * self.gib_hour)


class DecayingHistogram:
    """VPA's histogram: exponentially growing buckets, sample weights that halve every ``half_life_s``.

    >>> h = DecayingHistogram(first_bucket=0.01, ratio=1.05)
    >>> for i, v in enumerate([0.1, 0.2, 0.3, 0.4, 1.0]):
    ...     h.add(v, t=i * 60.0)
    >>> round(h.quantile(0.5), 2) >= 0.29, round(h.quantile(1.0), 2) >= 1.0
    (True, True)
    """

    def __init__(
        self, *, first_bucket: float = 0.01, ratio: float = 1.05, max_value: float = 1e7, half_life_s: float = DAY_S
    ) -> None:
        if not (first_bucket > 0 and ratio > 1 and max_value > first_bucket and half_life_s > 0):
            raise BadInput("histogram needs first_bucket > 0, ratio > 1, max_value > first_bucket, half_life_s > 0")
        n = math.ceil(math.log(max_value / first_bucket) / math.log(ratio)) + 1
        self.bounds = first_bucket * ratio ** np.arange(n, dtype=np.float64)  # upper bound of each bucket
        self.weights = np.zeros(n)
        self.half_life_s = half_life_s
        self.ref_t: float | None = None

    def _bucket(self, v: FloatArray) -> npt.NDArray[np.int64]:
        return np.minimum(np.searchsorted(self.bounds, v, side="left"), self.bounds.size - 1).astype(np.int64)

    def add_many(self, values: FloatArray, ts: FloatArray) -> None:
        ok = np.isfinite(values) & np.isfinite(ts)
        v, t = np.maximum(values[ok], 0.0), ts[ok]
        if v.size == 0:
            return
        if self.ref_t is None:
            self.ref_t = float(t.min())
        # weights grow with time instead of old weights decaying: same ratios, no rescans (as VPA does)
        w = np.exp2((t - self.ref_t) / self.half_life_s)
        np.add.at(self.weights, self._bucket(v), w)

    def add(self, value: float, t: float) -> None:
        self.add_many(np.array([value]), np.array([t]))

    def quantile(self, q: float) -> float:
        total = self.weights.sum()
        if total <= 0:
            return 0.0
        c = np.cumsum(self.weights) / total
        return float(self.bounds[min(int(np.searchsorted(c, q - 1e-12)), self.bounds.size - 1)])


def _cycle_buckets(ts: FloatArray, weekly: bool) -> npt.NDArray[np.int64]:
    hour = np.floor(np.mod(ts, DAY_S) / 3600.0).astype(np.int64)
    if not weekly:
        return hour
    weekend = (np.floor(ts / DAY_S + 3) % 7 >= 5).astype(np.int64)  # 1970-01-01 was a Thursday
    return hour + 24 * weekend


def trend_factor(
    ts: FloatArray, values: FloatArray, q: float, horizon_s: float, lo: float = 0.8, hi: float = 1.5
) -> float:
    """Multiplier from the Theil-Sen slope of daily ``q``-quantiles, projected ``horizon_s`` past the end.

    >>> t = np.arange(0, 10 * 86400.0, 3600.0)
    >>> round(trend_factor(t, 10 + t / 86400.0, 0.9, 86400.0), 2)  # grows 1/day from ~19 -> x~1.05
    1.05
    """
    from scipy.stats import theilslopes

    day = np.floor((ts - ts[0]) / DAY_S).astype(np.int64)
    days = np.unique(day)
    if days.size < 4:
        return 1.0
    qs = np.array(
        [np.nanquantile(values[day == d], q) if np.any(np.isfinite(values[day == d])) else np.nan for d in days]
    )
    ok = np.isfinite(qs)
    if ok.sum() < 4 or np.nanmax(qs) <= 0:
        return 1.0
    slope, intercept, _, _ = theilslopes(qs[ok], days[ok].astype(float))
    last = intercept + slope * days[ok][-1]
    if last <= 0:
        return 1.0
    projected = intercept + slope * (days[ok][-1] + horizon_s / DAY_S)
    return float(np.clip(projected / last, lo, hi))


@dataclass(frozen=True)
class Recommendation:
    """A workload's recommended CPU (vCPU) and memory (GiB), with saving and risk (``memory_risk``: the share
    of intervals that would have run out of memory); ``notes`` say what the reader should know about it."""

    workload: str
    cpu: float
    memory_gib: float
    current_cpu: float | None
    current_memory_gib: float | None
    monthly_cost_usd: float
    monthly_saving_usd: float | None
    cpu_risk: float
    memory_risk: float
    basis: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["notes"] = list(self.notes)
        return out


def _validate(ts: FloatArray, *series: FloatArray) -> None:
    if ts.ndim != 1 or ts.size == 0:
        raise BadInput("usage history is empty: need timestamps and samples", field="timestamps")
    for s in series:
        if s.shape != ts.shape:
            raise BadInput(f"{ts.size} timestamps but {s.size} samples", field="values")
    if np.any(np.diff(ts) < 0):
        raise BadInput("timestamps must be sorted in time", field="timestamps")


def target_level(
    ts: FloatArray,
    values: FloatArray,
    q: float,
    *,
    margin: float,
    half_life_s: float,
    cycles: bool = True,
    trend: bool = True,
    trend_horizon_s: float = 7 * DAY_S,
    shrink: bool = True,
) -> tuple[float, dict[str, Any]]:
    """The recommended level for one resource, and how it was reached (``shrink=False``: no downward trend)."""
    ok = np.isfinite(values)
    if ok.sum() == 0:
        raise BadInput("no usable usage samples (all gaps)", field="values")
    t, v = ts[ok], np.maximum(values[ok], 0.0)
    scale = float(np.max(v)) or 1.0
    span = float(t[-1] - t[0])
    basis: dict[str, Any] = {"percentile": q, "margin": margin, "samples": int(v.size)}
    levels = []
    if cycles and span >= 2 * DAY_S:
        buckets = _cycle_buckets(t, weekly=span >= 14 * DAY_S)
        for b in np.unique(buckets):
            sel = buckets == b
            h = DecayingHistogram(
                first_bucket=scale * 1e-4, ratio=1.02, max_value=scale * 1.01, half_life_s=half_life_s
            )
            h.add_many(v[sel], t[sel])
            levels.append(h.quantile(q))
        basis["cycle_buckets"] = len(levels)
    else:
        h = DecayingHistogram(first_bucket=scale * 1e-4, ratio=1.02, max_value=scale * 1.01, half_life_s=half_life_s)
        h.add_many(v, t)
        levels.append(h.quantile(q))
    level = max(levels)
    factor = trend_factor(t, v, q, trend_horizon_s) if trend else 1.0
    factor = factor if shrink else max(factor, 1.0)
    basis["trend_factor"] = round(factor, 4)
    return float(level * factor * (1.0 + margin)), basis


def recommend(
    workload: str,
    ts: npt.ArrayLike,
    cpu: npt.ArrayLike,
    memory_gib: npt.ArrayLike,
    *,
    current_cpu: float | None = None,
    current_memory_gib: float | None = None,
    cpu_percentile: float = 0.9,
    memory_percentile: float = 0.98,
    margin: float = 0.15,
    half_life_s: float = DAY_S,
    cycles: bool = True,
    memory_cycles: bool = False,
    trend: bool = True,
    prices: Prices | None = None,
) -> Recommendation:
    """Recommend one workload's CPU (vCPU used) and memory (GiB used) from its history.

    CPU follows the load: its level is the ``cpu_percentile`` of the busiest hour-of-day (or hour-of-week)
    bucket.  Memory is a working set, not a load: it does not fall back at night, and going over it is an
    out-of-memory kill rather than a slowdown, so its level is a high quantile (``memory_percentile``) of the
    recent working set as a whole (no per-hour maximum, which only piles the rare peaks of every hour on top
    of each other), grown by an upward trend but never shrunk by a downward one, and never below the working
    set's peak over the last ``RECENT_PEAK_S``; ``memory_risk`` is the share of past intervals that would have
    run out of memory.  Both are rounded up and held at the floors (:func:`settle`).

    >>> t = np.arange(0, 3 * 86400.0, 300.0)
    >>> r = recommend("api", t, np.full(t.size, 0.5), np.full(t.size, 1.0), current_cpu=2, current_memory_gib=4)
    >>> round(r.cpu, 2), round(r.memory_gib, 2), r.cpu_risk, r.monthly_saving_usd > 0
    (0.59, 1.17, 0.0, True)
    """
    t = np.asarray(ts, dtype=np.float64)
    c = np.asarray(cpu, dtype=np.float64)
    m = np.asarray(memory_gib, dtype=np.float64)
    _validate(t, c, m)
    prices = prices or Prices()
    cpu_rec, cpu_basis = target_level(
        t, c, cpu_percentile, margin=margin, half_life_s=half_life_s, cycles=cycles, trend=trend
    )
    mem_rec, mem_basis = target_level(
        t, m, memory_percentile, margin=margin, half_life_s=half_life_s, cycles=memory_cycles, trend=trend, shrink=False
    )
    peak = recent_peak(t, m)
    mem_basis["recent_peak_gib"] = peak
    cpu_rec, mem_rec = settle(cpu_rec, max(mem_rec, peak))
    cost = prices.monthly(cpu_rec, mem_rec)
    saving = None
    if current_cpu is not None and current_memory_gib is not None:
        saving = prices.monthly(current_cpu, current_memory_gib) - cost
    return Recommendation(
        workload=workload,
        cpu=cpu_rec,
        memory_gib=mem_rec,
        current_cpu=current_cpu,
        current_memory_gib=current_memory_gib,
        monthly_cost_usd=cost,
        monthly_saving_usd=saving,
        cpu_risk=exceed_rate(c, cpu_rec),
        memory_risk=exceed_rate(m, mem_rec),
        basis={"cpu": cpu_basis, "memory": mem_basis, "prices": prices.__dict__},
    )


def exceed_rate(values: npt.ArrayLike, level: float | npt.ArrayLike) -> float:
    """Share of real (non-NaN) intervals whose usage is above ``level``.

    >>> exceed_rate([1.0, 2.0, np.nan, 4.0], 1.5)
    0.6666666666666666
    """
    v = np.asarray(values, dtype=np.float64)
    lv = np.broadcast_to(np.asarray(level, dtype=np.float64), v.shape)
    ok = np.isfinite(v)
    return float(np.mean(v[ok] > lv[ok])) if ok.any() else 0.0


@dataclass(frozen=True)
class Allocation:
    """Levels chosen by :func:`allocate_risk`, with the expected (history) exceed share of each."""

    levels: FloatArray
    expected_exceed: FloatArray
    lam: float
    pooled_exceed: float


def _curves(
    ts: FloatArray | None,
    values: FloatArray,
    half_life_s: float,
    trend: bool,
    trend_horizon_s: float,
    q_trend: float,
    floor: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    ok = np.isfinite(values)
    v = np.maximum(values[ok], 0.0)
    if v.size == 0:
        return np.array([floor]), np.zeros(1)
    if ts is None:
        w = np.ones(v.size)
        factor = 1.0
    else:
        t = ts[ok]
        w = np.exp2((t - t[-1]) / half_life_s)
        factor = trend_factor(t, v, q_trend, trend_horizon_s) if trend else 1.0
    order = np.argsort(v, kind="stable")
    xs = v[order] * factor
    cw = np.cumsum(w[order])
    above = np.maximum(1.0 - cw / cw[-1], 0.0)
    if floor > 0 and xs[0] < floor:
        # no level below the floor: the floor itself (with the share above it) and the samples above it
        keep = xs > floor
        above_floor = float(w[order][xs > floor].sum() / cw[-1])
        return np.r_[floor, xs[keep]], np.r_[above_floor, above[keep]]
    return xs, above


def allocate_risk(
    histories: Sequence[FloatArray],
    risk_budget: float,
    *,
    timestamps: Sequence[FloatArray] | None = None,
    margin: float = 0.1,
    half_life_s: float = 14 * DAY_S,
    trend: bool = False,
    trend_horizon_s: float = 7 * DAY_S,
    floors: Sequence[float] | None = None,
) -> Allocation:
    """Levels for many workloads minimising their sum while the pooled exceed share <= ``risk_budget``.

    Each workload ``i`` gets the sample level ``x`` minimising ``x + lam * share_above_i(x)``; ``lam``
    is found by bisection so that the mean expected exceed share meets the budget.  Levels are then
    multiplied by ``1 + margin`` (a safety margin for the future not looking like the past).  ``floors``
    (one per workload, in the levels' units, margin included) are levels no workload goes below; the budget
    they free or use is spent on the others.

    >>> flat = np.full(100, 10.0)
    >>> spiky = np.r_[np.full(95, 1.0), np.full(5, 50.0)]
    >>> a = allocate_risk([flat, spiky], 0.03, margin=0.0)
    >>> a.levels.tolist()      # the spiky one takes the risk; the flat one is sized to its level
    [10.0, 1.0]
    """
    if not 0.0 <= risk_budget < 1.0:
        raise BadInput(f"risk_budget must be in [0, 1), got {risk_budget}", field="risk_budget")
    if len(histories) == 0:
        raise BadInput("no workloads to allocate", field="histories")
    if floors is not None and len(floors) != len(histories):
        raise BadInput(f"{len(histories)} workloads but {len(floors)} floors", field="floors")
    curves = [
        _curves(
            None if timestamps is None else np.asarray(timestamps[i], dtype=np.float64),
            np.asarray(h, dtype=np.float64),
            half_life_s,
            trend,
            trend_horizon_s,
            0.9,
            0.0 if floors is None else float(floors[i]) / (1.0 + margin),
        )
        for i, h in enumerate(histories)
    ]

    def pick(lam: float) -> tuple[FloatArray, FloatArray]:
        lv, ex = np.empty(len(curves)), np.empty(len(curves))
        for i, (xs, above) in enumerate(curves):
            k = int(np.argmin(xs + lam * above))
            lv[i], ex[i] = xs[k], above[k]
        return lv, ex

    hi = max(float(xs[-1]) for xs, _ in curves) * 1e3 + 1.0
    lo = 0.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        _, ex = pick(mid)
        if ex.mean() > risk_budget:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-9 * hi:
            break
    levels, ex = pick(hi)
    return Allocation(levels * (1.0 + margin), ex, hi, float(ex.mean()))

"""Guards beside the canary judge's statistical test, and Kayenta-compatible effect sizes.

The statistical test (:mod:`hx.deploy.judge_stats`) is only as good as its estimate of how much independent
evidence a window holds; on a short window of a smooth metric it may hold almost none, and a doubled latency
then passes as "not significant".  Guards are plain rules, as the peers have (Argo Rollouts' and Flagger's
thresholds, Kayenta's critical metrics), that fail a metric whatever the autocorrelation:

``separation`` (every metric)
    Fully separated windows: in every canary step, every canary value is above every baseline value (or below,
    for a decrease).  Under exchangeable noise this happens with probability ``1 / C(n_b + n_c, n_c)`` -- 1 in
    252 at 5 points each, 1 in 184,756 at 10 -- so it is strong evidence in itself; a margin guard below also asks
    that the move be large.
``margin`` (``max_increase`` / ``max_decrease`` relative, ``max_increase_abs`` / ``max_decrease_abs`` absolute)
    Fully separated in a bad direction and the canary's median or mean (whichever moved further) beyond the
    baseline's by more than the margin.  A metric whose configuration states no ``direction`` is tested for an
    increase but guarded both ways, as Kayenta's default: a fully separated fall beyond ``max_decrease`` (-45 %)
    is as unexplained as a rise, until the configuration says which way is bad.
``critical`` (critical metrics)
    Fully separated in a bad direction with a gap beyond the metric's ``tolerance``: every canary value beyond
    every baseline value by more than the tolerance (an error rate rising from 0 everywhere, a doubled latency);
    with a Kayenta ``critical_increase`` (``critical_decrease``), only a move whose effect size reaches it (below
    it the margins still apply, and the metric counts in the score).
``bound`` (``max_value`` / ``min_value``)
    The canary's median beyond an absolute bound, whatever the baseline does.
``departure`` (every metric)
    A constant baseline (an error rate of 0 in every interval) that the canary leaves in a bad direction, beyond
    the tolerance, in at least ``k`` of its ``n`` intervals, where ``k`` is the fewest departures whose chance
    under the null stays within the metric's alpha for any rate of departures ``p``:
    ``max_p (1 - p)^n_b P(Binomial(n, p) >= k) <= alpha``, and in at least half of them (the canary's median left
    the baseline's level): 4 of 5 and 5 of 10 at alpha 1 %.  One canary interval that happens to match the
    baseline no longer hides an error rate rising from 0.

Per-interval counts with a denominator are compared as rates (intervals without requests dropped).

>>> import numpy as np
>>> from hx.deploy.judge_config import MetricConfig
>>> base, can = np.array([1.0, 2, 3, 4, 5]), np.array([10.0, 20, 30, 40, 50])
>>> guard_reason(MetricConfig(name="m"), [base], [can])
'guard: canary fully above baseline, level moved +900.0%, beyond the margin +80.0%'
>>> guard_reason(MetricConfig(name="m", direction="decrease"), [base], [can]) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from hx.deploy.judge_config import MetricConfig
from hx.deploy.judge_stats import FloatArray, clean

#: the false-positive budget of the departure guard when the metric sets no ``alpha`` (the judge's default)
DEFAULT_ALPHA = 0.01
#: rates of departures over which the departure guard's null chance is maximised
_P_GRID = np.linspace(0.001, 0.999, 999)

Side = str  # "higher" | "lower"


def rates(counts: Sequence[FloatArray], denominators: Sequence[FloatArray] | None) -> list[FloatArray]:
    """Per-interval counts as rates per unit of the denominator (intervals with no exposure dropped)."""
    if denominators is None:
        return [clean(c) for c in counts]
    out = []
    for y, d in zip(counts, denominators, strict=True):
        yy, dd = np.asarray(y, dtype=np.float64).ravel(), np.asarray(d, dtype=np.float64).ravel()
        if yy.size != dd.size:
            return [clean(c) for c in counts]  # the count test reports the length mismatch
        keep = np.isfinite(yy) & np.isfinite(dd) & (dd > 0)
        out.append(yy[keep] / dd[keep])
    return out


def separation(baseline: Sequence[FloatArray], canary: Sequence[FloatArray]) -> tuple[Side | None, float]:
    """(side, gap): ``higher`` when in every step (window pair) every canary value exceeds every baseline value,
    ``lower`` when every one is below, else None; ``gap`` is the smallest relative gap over the steps between
    the nearest values, (min canary - max baseline) / |max baseline| (or the mirror for ``lower``; +inf from a
    baseline of 0).  A step without a value of each version is skipped; none at all: (None, 0).

    >>> separation([np.array([1.0, 2.0])], [np.array([3.0, 4.0])])
    ('higher', 0.5)
    >>> separation([np.array([1.0, 3.0])], [np.array([2.0, 4.0])])
    (None, 0.0)
    """
    pairs = [(clean(b), clean(c)) for b, c in zip(baseline, canary, strict=True)]
    pairs = [(b, c) for b, c in pairs if b.size and c.size]
    if pairs and all(c.min() > b.max() for b, c in pairs):
        return "higher", min(relative(float(c.min() - b.max()), float(b.max())) for b, c in pairs)
    if pairs and all(c.max() < b.min() for b, c in pairs):
        return "lower", min(-relative(float(c.max() - b.min()), float(b.min())) for b, c in pairs)
    return None, 0.0


def relative(diff: float, base: float) -> float:
    """``diff`` relative to ``base`` (+-inf when the baseline is 0 and the canary is not)."""
    if base != 0.0:
        return diff / abs(base)
    return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)


def _pct(x: float) -> str:
    """A relative move as a signed percentage; from a baseline of 0 there is none.

    >>> _pct(0.25), _pct(math.inf)
    ('+25.0%', 'from 0')
    """
    return f"{x * 100:+.1f}%" if math.isfinite(x) else "from 0"


def _move(side: Side, medians: tuple[float, float], means: tuple[float, float]) -> tuple[float, float]:
    """(difference, relative difference) of the canary's level, by medians or by means, whichever moved further
    in ``side``'s direction: a fully separated window whose mean doubled (one large value) or whose median did."""
    moves = [(c - b, relative(c - b, b)) for b, c in (medians, means)]
    return max(moves, key=lambda m: m[1]) if side == "higher" else min(moves, key=lambda m: m[1])


def _margin_reason(cfg: MetricConfig, side: Side, gap: float, rel: float, diff: float, size: float) -> str | None:
    """Why a fully separated move in a bad direction fails (critical tolerance, relative or absolute margin).
    ``size``: the move's Kayenta effect size; with ``critical_increase`` (``critical_decrease``) set, a critical
    metric's move fails the canary outright only when it reaches that, as the statistical verdict's does."""
    up = side == "higher"
    where = "above" if up else "below"
    crit = cfg.critical_increase if up else cfg.critical_decrease
    reached = crit is None or (size >= crit if up else size <= crit)
    if cfg.critical and gap > cfg.tolerance and reached:
        beyond = "" if crit is None else f", {cfg.effect_measure} {size:.3g} beyond critical {crit:g}"
        gap_text = f"with a gap of {_pct(gap if up else -gap)}" if math.isfinite(gap) else "of 0"
        return (
            f"guard: critical metric, canary fully {where} baseline {gap_text} "
            f"(level moved {_pct(rel)}; tolerance {cfg.tolerance:.0%}{beyond})"
        )
    margin = cfg.max_increase if up else cfg.max_decrease
    if margin is not None and (rel if up else -rel) > margin:
        limit = _pct(margin if up else -margin)
        return f"guard: canary fully {where} baseline, level moved {_pct(rel)}, beyond the margin {limit}"
    bound = cfg.max_increase_abs if up else cfg.max_decrease_abs
    if bound is not None and (diff if up else -diff) > bound:
        return f"guard: canary fully {where} baseline, level moved {diff:+.6g}, beyond the absolute margin {bound:g}"
    return None


def guard_reason(cfg: MetricConfig, baseline: Sequence[FloatArray], canary: Sequence[FloatArray]) -> str | None:
    """The first guard that fails the metric (its reason), or None.  Values as compared: rates for counts."""
    reason, _ = guard(cfg, baseline, canary)
    return reason


def guard(
    cfg: MetricConfig, baseline: Sequence[FloatArray], canary: Sequence[FloatArray]
) -> tuple[str | None, Side | None]:
    """(reason, side): the first guard that fails the metric and, for the separation guards, the move's side."""
    b_all, c_all = np.concatenate([clean(b) for b in baseline]), np.concatenate([clean(c) for c in canary])
    if b_all.size < cfg.min_points or c_all.size < cfg.min_points:
        return None, None
    med_b, med_c = float(np.median(b_all)), float(np.median(c_all))
    if cfg.max_value is not None and med_c > cfg.max_value:
        return f"guard: canary median {med_c:.6g} above max_value {cfg.max_value:g}", None
    if cfg.min_value is not None and med_c < cfg.min_value:
        return f"guard: canary median {med_c:.6g} below min_value {cfg.min_value:g}", None
    side, gap = separation(baseline, canary)
    bad = {"higher": ("increase", "either"), "lower": ("decrease", "either")}
    if side is None:
        return departure(cfg, b_all, c_all)
    stated = "direction" in cfg.model_fields_set
    if cfg.direction not in bad[side] and stated:
        return None, None
    diff, rel = _move(side, (med_b, med_c), (float(b_all.mean()), float(c_all.mean())))
    unstated = cfg.direction not in bad[side]  # guarded only because no direction is configured
    size = effect_size(cfg.effect_measure, b_all, c_all)
    use = cfg.model_copy(update={"critical": False}) if unstated else cfg
    reason = _margin_reason(use, side, gap, rel, diff, size)
    if reason is not None and unstated:  # the default direction, not the user's: say so
        reason += f"; no direction is configured (set direction: {cfg.direction} to accept such a move)"
    return reason, side if reason is not None else None


def departures_needed(n_baseline: int, n_canary: int, alpha: float) -> int | None:
    """The fewest of ``n_canary`` intervals leaving a constant baseline of ``n_baseline`` intervals whose chance
    under the null, maximised over the departure rate p, is at most ``alpha`` (None: no count is that unlikely).

    >>> departures_needed(10, 10, 0.01), departures_needed(5, 5, 0.01), departures_needed(3, 3, 0.01)
    (5, 4, None)
    """
    keep = (1.0 - _P_GRID) ** n_baseline
    for k in range(1, n_canary + 1):
        if float(np.max(keep * stats.binom.sf(k - 1, n_canary, _P_GRID))) <= alpha:
            return k
    return None


def departure(cfg: MetricConfig, b_all: FloatArray, c_all: FloatArray) -> tuple[str | None, Side | None]:
    """The departure guard: a constant baseline left by the canary in a bad direction in enough intervals."""
    if b_all.size == 0 or float(np.ptp(b_all)) != 0.0:
        return None, None
    level = float(b_all[0])
    slack = cfg.tolerance * abs(level)
    need = departures_needed(b_all.size, c_all.size, cfg.alpha if cfg.alpha is not None else DEFAULT_ALPHA)
    if need is None:
        return None, None
    need = max(need, math.ceil(c_all.size / 2))
    sides: list[Side] = [
        s for s, d in (("higher", "increase"), ("lower", "decrease")) if cfg.direction in (d, "either")
    ]
    for side in sides:
        left = int(np.sum(c_all > level + slack)) if side == "higher" else int(np.sum(c_all < level - slack))
        if left >= need:
            where = "above" if side == "higher" else "below"
            return (
                f"guard: the baseline is constant at {level:.6g} and the canary is {where} it in {left} of "
                f"{c_all.size} intervals (at least {need} is beyond chance)"
            ), side
    return None, None


def effect_size(measure: str, baseline: FloatArray, canary: FloatArray) -> float:
    """Kayenta's effect size: ``mean_ratio`` = mean(canary) / mean(baseline) (inf when only the baseline's mean
    is 0; Kayenta reads that as 1), or ``cles`` = P(canary > baseline) + P(tie) / 2 over all pairs.

    >>> effect_size("mean_ratio", np.array([1.0, 3.0]), np.array([4.0, 4.0]))
    2.0
    >>> effect_size("cles", np.array([1.0, 3.0]), np.array([2.0, 4.0]))
    0.75
    """
    b, c = clean(baseline), clean(canary)
    if measure == "cles":
        d = c[:, None] - b[None, :]
        return float(np.mean(d > 0) + 0.5 * np.mean(d == 0))
    mb, mc = float(b.mean()), float(c.mean())
    if mb == 0.0:
        return 1.0 if mc == 0.0 else math.copysign(math.inf, mc)
    return mc / mb


def effect_size_gate(cfg: MetricConfig, shift: str, size: float) -> tuple[bool, bool]:
    """(fails, critical) for a significant ``shift`` of effect ``size`` under the Kayenta thresholds.

    ``fails``: the shift reaches ``allowed_increase`` (``allowed_decrease``), or no threshold is set.  ``critical``:
    the metric is critical and the shift reaches ``critical_increase`` (``critical_decrease``), or none is set.
    """
    if shift == "higher":
        allowed, crit = cfg.allowed_increase, cfg.critical_increase
        return (allowed is None or size >= allowed), cfg.critical and (crit is None or size >= crit)
    allowed, crit = cfg.allowed_decrease, cfg.critical_decrease
    return (allowed is None or size <= allowed), cfg.critical and (crit is None or size <= crit)

"""The statistical canary judge: compare each metric of the canary with the baseline running at the same time.

Each metric gets its own test (see :mod:`hx.deploy.judge_stats`): an autocorrelation-aware Welch t-test for
continuous metrics, the exact conditional binomial test for counts.  Metric verdicts combine Kayenta-style into a
score 0-100: within a group, the weighted share of conclusive metrics that pass; across groups, the weighted mean.
A failing critical metric fails the whole judgement; a metric with insufficient data makes it inconclusive (by
default), never a silent pass.  Beside each test, guards (:mod:`hx.deploy.judge_guards`) fail a metric on plain
rules -- fully separated windows moved beyond a margin, a critical metric's separated move beyond its tolerance,
absolute bounds -- and a metric a guard fails fails the whole judgement whatever the score (as a threshold
breach fails a rollout in Argo Rollouts and Flagger: a doubled latency is not "marginal"); optional Kayenta-style
effect-size thresholds decide which significant shifts fail and which failures are critical.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> base = {"latency": rng.normal(100, 10, 60), "errors": rng.poisson(0.5, 60).astype(float)}
>>> canary = {"latency": rng.normal(100, 10, 60) * 1.5, "errors": rng.poisson(0.5, 60).astype(float)}
>>> cfg = JudgeConfig(metrics=[MetricConfig(name="latency"), MetricConfig(name="errors", kind="count")])
>>> v = judge(base, canary, cfg)
>>> v.status, v.score, [m.status for m in v.metrics]
('fail', 50.0, ['fail', 'pass'])
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from hx.deploy.judge_config import JudgeConfig, MetricConfig, NoDataPolicy, load_metrics_config
from hx.deploy.judge_guards import effect_size, effect_size_gate, guard, rates
from hx.deploy.judge_stats import (
    Comparison,
    FloatArray,
    History,
    Shift,
    Windows,
    compare_continuous,
    compare_counts,
    windows_of,
)
from hx.errors import BadInput
from hx.files import open_text

__all__ = [
    "JudgeConfig",
    "MetricConfig",
    "MetricVerdict",
    "Verdict",
    "judge",
    "judge_metric",
    "load_metrics_config",
    "load_series_csv",
]

VerdictStatus = Literal["pass", "marginal", "fail", "inconclusive"]


def _finite(x: float | None) -> float | None:
    """JSON-safe float: infinities and NaN become None."""
    return x if x is not None and math.isfinite(x) else None


class MetricVerdict(BaseModel):
    """One metric's verdict and the evidence that led to it (test, p-value, relative effect and its interval)."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    group: str
    weight: float
    critical: bool
    direction: str
    #: False: the configuration states no direction (tested for an increase, guarded both ways, as Kayenta's default)
    direction_stated: bool = True
    status: Literal["pass", "fail", "inconclusive"]
    shift: Literal["higher", "lower", "none"]
    test: str
    p_value: float | None
    alpha: float
    statistic: float | None
    effect: float | None
    effect_infinite: bool = False
    ci_low: float | None
    ci_high: float | None
    tolerance: float
    n_baseline: int
    n_canary: int
    effective_n: float | None
    autocorrelation: float | None
    dispersion: float | None
    reason: str
    guard: str | None = None
    effect_size: float | None = None

    @classmethod
    def from_result(cls, cfg: MetricConfig, alpha: float, res: Comparison) -> MetricVerdict:
        """Wrap a :class:`Comparison` with the metric's configuration."""
        return cls(
            name=cfg.name,
            kind=cfg.kind,
            group=cfg.group,
            weight=cfg.weight,
            critical=cfg.critical,
            direction=cfg.direction,
            direction_stated="direction" in cfg.model_fields_set,
            status=res.status,
            shift=res.shift,
            test=res.test,
            p_value=res.p_value,
            alpha=alpha,
            statistic=_finite(res.statistic),
            effect=_finite(res.effect),
            effect_infinite=res.effect is not None and math.isinf(res.effect),
            ci_low=_finite(res.ci_low),
            ci_high=_finite(res.ci_high),
            tolerance=cfg.tolerance,
            n_baseline=res.n_baseline,
            n_canary=res.n_canary,
            effective_n=_finite(res.effective_n),
            autocorrelation=res.autocorrelation,
            dispersion=res.dispersion,
            reason=res.reason,
        )


class Verdict(BaseModel):
    """The whole judgement: status, score 0-100 (None when nothing was conclusive), per-group scores, reasons."""

    model_config = ConfigDict(frozen=True)

    status: VerdictStatus
    score: float | None
    groups: dict[str, float]
    metrics: list[MetricVerdict]
    reasons: list[str]

    def metric(self, name: str) -> MetricVerdict:
        """The verdict of metric ``name``."""
        for m in self.metrics:
            if m.name == name:
                return m
        raise BadInput(f"no metric {name!r} in this verdict", field="metric")


def _series(data: Mapping[str, Windows], name: str, which: str) -> list[FloatArray]:
    """The window(s) of one metric (a list: one per canary step when the caller gives several)."""
    if name not in data:
        have = ", ".join(sorted(data)) or "(none)"
        raise BadInput(f"metric {name!r} is configured but absent from the {which} data (have: {have})", field=name)
    return windows_of(data[name])


def judge_metric(
    cfg: MetricConfig,
    baseline: Mapping[str, Windows],
    canary: Mapping[str, Windows],
    alpha: float,
    history: Mapping[str, History] | None = None,
) -> MetricVerdict:
    """Test one metric; ``alpha`` is the judge's budget unless the metric overrides it.

    A metric's data may come as several windows (one per canary step): continuous metrics treat each window
    pair as a stratum; counts are pooled over the windows (their exposure already counts intervals or requests).
    """
    a = cfg.alpha if cfg.alpha is not None else alpha
    b, c = _series(baseline, cfg.name, "baseline"), _series(canary, cfg.name, "canary")
    tol, mp = cfg.tolerance, cfg.min_points
    if cfg.kind == "count":
        wb = _series(baseline, cfg.denominator, "baseline") if cfg.denominator else None
        wc = _series(canary, cfg.denominator, "canary") if cfg.denominator else None
        checked = [("baseline", cfg.name, b), ("canary", cfg.name, c)]
        if cfg.denominator and wb is not None and wc is not None:
            checked += [("baseline", cfg.denominator, wb), ("canary", cfg.denominator, wc)]
        for side, counts, exposure in (("baseline", b, wb), ("canary", c, wc)):
            if exposure is not None and [len(x) for x in counts] != [len(x) for x in exposure]:
                raise BadInput(  # it said "baseline counts and denominator differ in length", naming neither
                    f"metric {cfg.name!r} (kind count): {side} has {sum(map(len, counts))} values of {cfg.name!r} "
                    f"but {sum(map(len, exposure))} of its denominator {cfg.denominator!r}: one per interval each",
                    field=f"{side}.{cfg.name}",
                )
        for side, name, series in checked:
            negative = np.flatnonzero(np.concatenate(series) < 0)
            if negative.size:
                at = int(negative[0])
                raise BadInput(
                    f"metric {cfg.name!r} (kind count): {side}.{name}[{at}] (point {at + 1}) is "
                    f"{float(np.concatenate(series)[at]):g}; counts must be >= 0",
                    field=f"{side}.{name}.{at}",
                )
        res = compare_counts(
            np.concatenate(b),
            np.concatenate(c),
            cfg.direction,
            alpha=a,
            tolerance=tol,
            min_points=mp,
            baseline_denominator=np.concatenate(wb) if wb is not None else None,
            canary_denominator=np.concatenate(wc) if wc is not None else None,
        )
        verdict = MetricVerdict.from_result(cfg, a, res)
        return apply_rules(cfg, verdict, rates(b, wb), rates(c, wc))
    hist = history.get(cfg.name) if history is not None else None
    res = compare_continuous(
        b,
        c,
        cfg.direction,
        autocorrelation=cfg.autocorrelation,
        log_scale=cfg.log_scale,
        history=hist,
        alpha=a,
        tolerance=tol,
        min_points=mp,
    )
    return apply_rules(cfg, MetricVerdict.from_result(cfg, a, res), b, c)


def _kayenta(cfg: MetricConfig) -> bool:
    limits = (cfg.allowed_increase, cfg.allowed_decrease, cfg.critical_increase, cfg.critical_decrease)
    return any(x is not None for x in limits)


def apply_rules(cfg: MetricConfig, v: MetricVerdict, b: list[FloatArray], c: list[FloatArray]) -> MetricVerdict:
    """The test's verdict after the Kayenta effect-size thresholds (if set) and the guards.

    A significant shift whose effect size stays inside ``allowed_*`` passes; a guard that fires fails the metric
    (the separation guards only for a move that the effect-size thresholds do not allow).  A failing critical
    metric is critical only when its effect size reaches ``critical_*`` (when set), as in Kayenta.
    """
    if v.status == "inconclusive" and v.p_value is None:  # no test could run (too few points): nothing to gate
        return v
    size = effect_size(cfg.effect_measure, np.concatenate(b), np.concatenate(c)) if _kayenta(cfg) else None
    status, reason, critical = v.status, v.reason, cfg.critical
    if status == "inconclusive" and size is not None:  # a separated move too autocorrelated to test: its size
        moved: Shift = "higher" if (v.effect or 0.0) > 0 else "lower"
        if not effect_size_gate(cfg, moved, size)[0]:
            status, reason = "pass", f"{reason}; effect size {size:.3g} within the allowed {cfg.effect_measure}"
    if status == "fail" and size is not None:
        fails, critical = effect_size_gate(cfg, v.shift, size)
        if not fails:
            status, reason = "pass", f"{reason}; effect size {size:.3g} within the allowed {cfg.effect_measure}"
        else:
            limit = cfg.allowed_increase if v.shift == "higher" else cfg.allowed_decrease
            if limit is not None:
                reason = f"{reason}; effect size {size:.3g} beyond the allowed {cfg.effect_measure} {limit:g}"
    why, side = guard(cfg, b, c)
    if why is not None and size is not None and side is not None:
        fails, crit = effect_size_gate(cfg, side, size)
        why = why if fails else None
        critical = crit if why is not None and status != "fail" else critical
    if why is not None:
        reason = why if status != "fail" else f"{reason}; {why}"
        status = "fail"
    return v.model_copy(
        update={
            "status": status,
            "reason": reason,
            "critical": critical,
            "guard": why,
            "effect_size": _finite(size) if size is not None else None,
        }
    )


def _policy(cfg: JudgeConfig, m: MetricVerdict) -> NoDataPolicy:
    mc = next(x for x in cfg.metrics if x.name == m.name)
    return mc.no_data or cfg.no_data


def _scores(cfg: JudgeConfig, metrics: list[MetricVerdict]) -> tuple[float | None, dict[str, float]]:
    """Group scores (weighted share passing among scored metrics) and their weighted mean."""
    groups: dict[str, float] = {}
    for g in dict.fromkeys(m.group for m in metrics):
        scored = [m for m in metrics if m.group == g and (m.status != "inconclusive" or _policy(cfg, m) == "fail")]
        total = sum(m.weight for m in scored)
        if total > 0:
            groups[g] = 100.0 * sum(m.weight for m in scored if m.status == "pass") / total
    if not groups:
        return None, groups
    wsum = sum(cfg.group_weight(g) for g in groups)
    return sum(cfg.group_weight(g) * s for g, s in groups.items()) / wsum, groups


def combine(cfg: JudgeConfig, metrics: list[MetricVerdict]) -> Verdict:
    """Combine metric verdicts into the judgement (documented in the module docstring)."""
    score, groups = _scores(cfg, metrics)
    reasons = [f"{m.name}: {m.reason}" for m in metrics if m.status != "pass"]
    critical_fail = [
        m.name
        for m in metrics
        if m.critical and (m.status == "fail" or (m.status == "inconclusive" and _policy(cfg, m) == "fail"))
    ]
    guarded = [m.name for m in metrics if m.status == "fail" and m.guard is not None and m.name not in critical_fail]
    pending = [m.name for m in metrics if m.status == "inconclusive" and _policy(cfg, m) == "inconclusive"]
    status: VerdictStatus
    if critical_fail or guarded:
        status = "fail"
        if guarded:
            reasons.insert(0, f"guard failed (a gross regression fails the canary whatever the score): "
                              f"{', '.join(guarded)}")  # fmt: skip
        if critical_fail:
            reasons.insert(0, f"critical metric failed: {', '.join(critical_fail)}")
    elif score is not None and score < cfg.marginal_threshold:
        status = "fail"
    elif pending or score is None:
        status = "inconclusive"
        reasons.insert(0, f"insufficient data or evidence: {', '.join(pending) or 'no metric was conclusive'}")
    elif score >= cfg.pass_threshold:
        status = "pass"
    else:
        status = "marginal"
    if score is not None:
        reasons.append(f"score {score:.1f} (pass >= {cfg.pass_threshold:g}, marginal >= {cfg.marginal_threshold:g})")
    return Verdict(status=status, score=score, groups=groups, metrics=metrics, reasons=reasons)


def judge(
    baseline: Mapping[str, FloatArray],
    canary: Mapping[str, FloatArray],
    metrics_config: JudgeConfig,
    *,
    history: Mapping[str, History] | None = None,
) -> Verdict:
    """Judge a canary against the baseline that ran at the same time.

    ``baseline`` and ``canary`` map metric name to a time-ordered array of per-interval values (NaN = gap).
    A configured metric (or denominator) absent from either mapping raises :class:`BadInput` naming it.
    ``history`` (optional) maps metric name to the baseline's values before the canary started (one series or
    several blocks, each demeaned on its own): continuous metrics use it only to estimate autocorrelation and
    noise level (short windows estimate both poorly).
    """
    metrics = [judge_metric(m, baseline, canary, metrics_config.alpha, history) for m in metrics_config.metrics]
    return combine(metrics_config, metrics)


def levels(
    baseline: Mapping[str, FloatArray], canary: Mapping[str, FloatArray], cfg: JudgeConfig
) -> dict[str, dict[str, float | None]]:
    """Each side's level per metric in the metric's own units: the median, or the pooled rate for a count over
    requests (``None`` where there is none), as ``hx canary judge`` and the API show beside the verdict.

    >>> cfg = JudgeConfig(metrics=[{"name": "p95"}, {"name": "errors", "kind": "count", "denominator": "requests"}])
    >>> b = {"p95": np.array([1.0, 2.0, 3.0]), "errors": np.array([1.0, 1.0]), "requests": np.array([100.0, 100.0])}
    >>> levels(b, b, cfg)["errors"]
    {'baseline': 0.01, 'canary': 0.01}
    """

    def level(d: Mapping[str, FloatArray], name: str, denominator: str | None) -> float | None:
        v = np.asarray(d[name], dtype=np.float64)
        if denominator is not None:
            den = float(np.nansum(np.asarray(d[denominator], dtype=np.float64)))
            x = float(np.nansum(v)) / den if den > 0 else math.nan
        else:
            x = float(np.nanmedian(v)) if np.isfinite(v).any() else math.nan
        return x if math.isfinite(x) else None

    return {
        m.name: {"baseline": level(baseline, m.name, m.denominator), "canary": level(canary, m.name, m.denominator)}
        for m in cfg.metrics
    }


def history_note(cfg: JudgeConfig, history: Mapping[str, object], where: str) -> str | None:
    """What to say of a baseline history that lacks some configured metrics or holds too few values of them to use
    (``None``: it serves them all); one that has none of them is refused, naming ``where`` and what it holds (it
    would silently change nothing).

    >>> cfg = JudgeConfig(metrics=[{"name": "latency"}, {"name": "errors"}])
    >>> history_note(cfg, {"latency": [1.0, 2.0, 3.0]}, "history")
    'history has no series for errors: that metric is judged without history'
    >>> history_note(cfg, {"latency": [1.0, None], "errors": []}, "history")
    'history holds under 3 values of latency (1), errors (0): those metrics are judged without history'
    """
    names = [m.name for m in cfg.metrics]
    unused = [n for n in names if n not in history]
    if len(unused) == len(names):
        raise BadInput(
            f"{where}: no series for any configured metric ({', '.join(names)}); it has "
            f"{', '.join(sorted(history)) or 'none'}",
            field="history",
        )
    held = {n: _finite_count(history[n]) for n in names if n in history}
    short = {n: k for n, k in held.items() if k < MIN_HISTORY_VALUES}
    notes = []
    if unused:
        which = "that metric is" if len(unused) == 1 else "those metrics are"
        notes.append(f"{where} has no series for {', '.join(unused)}: {which} judged without history")
    if short:
        which = "that metric is" if len(short) == 1 else "those metrics are"
        listed = ", ".join(f"{n} ({k})" for n, k in short.items())
        notes.append(f"{where} holds under {MIN_HISTORY_VALUES} values of {listed}: {which} judged without history")
    return "; ".join(notes) or None


#: the fewest values a metric's history must hold to measure anything (a block of 3)
MIN_HISTORY_VALUES = 3


def _finite_count(values: object) -> int:
    """How many finite numbers a history series holds (``None`` and NaN are gaps)."""
    if isinstance(values, np.ndarray):
        return int(np.isfinite(values.astype(np.float64)).sum())
    if isinstance(values, list | tuple):
        return sum(1 for v in values if isinstance(v, int | float) and math.isfinite(v))
    return 0


def load_series_csv(path: str | Path) -> dict[str, FloatArray]:
    """Read per-interval metric values from a CSV (comma, semicolon or tab separated: sniffed from the header): one
    column per metric, an optional ``timestamp`` column.

    Empty cells (and ``nan``) are gaps.  A cell that is not a finite number raises :class:`BadInput` naming the row
    (1 = header) and the column.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: file not found", field=str(p))
    text = open_text(p).read()
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    rows = list(csv.reader(text.splitlines(), delimiter=max((",", ";", "\t"), key=first.count)))
    if not rows or not any(h.strip() for h in rows[0]):
        raise BadInput(f"{p}: empty file or no header row", field=str(p))
    header = [h.strip() for h in rows[0]]
    cols = [i for i, h in enumerate(header) if h.lower() not in ("timestamp", "time", "ts")]
    if len(set(header)) != len(header) or any(not header[i] for i in cols):
        raise BadInput(f"{p}: header row has empty or repeated column names: {header}", field=str(p))
    if not any(any(cell.strip() for cell in row) for row in rows[1:]):
        raise BadInput(f"{p}: no data rows (only the header): one row per interval expected", field=str(p))
    values: dict[str, list[float]] = {header[i]: [] for i in cols}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise BadInput(f"{p}: row {lineno} has {len(row)} cells, header has {len(header)}", field=f"row {lineno}")
        for i in cols:
            cell = row[i].strip()
            try:
                v = float(cell) if cell else math.nan
            except ValueError as err:
                raise BadInput(
                    f"{p}: row {lineno}, column {header[i]!r}: {cell!r} is not a number", field=f"row {lineno}"
                ) from err
            if math.isinf(v):
                raise BadInput(
                    f"{p}: row {lineno}, column {header[i]!r}: {cell!r} is not a finite number (a gap is an empty "
                    "cell or nan)",
                    field=f"row {lineno}",
                )
            values[header[i]].append(v)
    return {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}

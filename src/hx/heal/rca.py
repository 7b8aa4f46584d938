"""Root-cause analysis: rank the services that most likely started an incident.

The method, in five steps (each a small pure function below):

1. **Baseline and onset.**  The baseline is, in order of preference, a separate normal-operation data set
   (``normal``), a known normal period (``normal_period``), or the rows before the incident onset.  The
   onset is one multivariate change point over all metrics (:mod:`hx.heal.rca_onset`); when the alert time
   ``anomaly_start`` is known the onset is searched at or before the row that holds it (an alert is a
   symptom, so the change cannot come later), and that row is used when no significant change shows first.
2. **Robust deviation.**  Every metric is scored with a robust z-score ``(x - level) / scale``.  The level
   is the median just before the onset (so a level that drifted since a separate normal period is not
   taken for the incident); the scale is the largest of the baseline's IQR- and MAD-based spread and 1 % of
   the level (so a flat baseline does not turn a 0.002 % wobble into a huge score); with a separate normal
   data set, also at least ``1 / threshold`` of how far the pre-onset level drifted from it (a drift that
   came without an incident is no incident by itself).  A baseline of fewer than ``MIN_BASELINE`` values
   cannot tell its own spread, so its relative noise is taken from its peers: the spread of the relative
   changes of all same-named metrics (most services are not at fault).  Only
   the harmful direction counts when the metric's name tells it (latency, errors, CPU, memory, saturation:
   up; availability, success: down); load metrics (requests, traffic, replicas) never name a root cause,
   since load changes follow from faults elsewhere as often as they cause them.  A metric's deviation is
   the median of its z-scores after the onset -- a sustained shift, not a spike -- and needs most of that
   window observed.  With ``alert_service`` named, "after the onset" means while the incident lasts: the
   rows where the alerting service's symptom is past ``threshold`` (or half its peak, when it never gets
   there), so a short incident is not diluted by the quiet rows around it.
   With known normal data (``normal`` or ``normal_period``) the scale is also floored by the metric's own
   resolution (its smallest step) and by its normal tail: the ``tail_quantile`` of the normal data may score
   no more than its Gaussian equivalent, so a value common in normal minutes (a latency quantile that is
   5 ms nearly always and 29 s in 9 % of minutes) cannot score as extreme.
3. **Service score and the metric that moved first.**  A service scores its best metric kind
   (:mod:`hx.heal.rca_kinds`): near-copies of one metric (its P90, P95, P99) count with their lower median
   (``combine="family"``), so one noisy quantile cannot carry a service; after propagation the ranking score
   is scaled by the kind's weight (how often that kind moves at a true root cause against elsewhere, fitted
   on development data).  The metric that moved first is the one whose excursion above ``threshold`` began
   earliest.
4. **Propagation along the call graph** (``{caller: [callees]}``).  Faults travel from a callee up to its
   callers.  An anomalous callee that moved no later than its caller explains the caller, in proportion to
   how much of the caller's move (in the metric's own units: latency adds up along calls) the callee's own
   move covers; the caller's score shrinks by up to ``threshold / a(callee)``.  Per-request metrics
   (latency, availability, error rate) are compared in totals when both services report a request count:
   a callee's 5 failed calls cannot explain its caller's 30 failed requests, however steep the callee's
   failure rate; and a candidate's score is scaled by the share of the alerting service's move it can
   account for in such totals (a root cause of the alert must account for it).  Conversely, a candidate
   gains the anomaly of the callers it can explain, reached through anomalous callers: a true root has a
   trail of anomalous services above it, a noisy leaf has not.  Services without data are looked through.
   With ``alert_service`` named, anomalous candidates with an anomalous call path up to it come first.
5. **Without a graph**, time is the only order: a service that moved clearly (more than one sample) after
   another anomalous one is explained by it in the same way.

Parameters set by principle: ``threshold`` (3 robust standard deviations mark a metric anomalous), the 1 %
relative scale floor and ``MIN_BASELINE``.  Chosen on development data by ``bench/rca.py``'s
leave-one-system-out protocol (its figures fit them inside the training folds): ``tail_quantile``,
``combine`` and the kind weights.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from hx.errors import BadInput
from hx.heal.rca_input import (
    FloatArray,
    MetricTable,
    check_graph,
    check_timestamps,
    missing_from_normal,
    to_table,
)
from hx.heal.rca_kinds import DEFAULT_KIND_WEIGHTS, service_score
from hx.heal.rca_onset import (
    MAD_TO_SIGMA,
    detect_onset,
    nan_median,
    resolution,
    robust_center_scale,
    scale_floor,
    tail_spread,
)

__all__ = ["Candidate", "MetricEvidence", "metric_direction", "rank_root_causes"]

#: Robust scale floor, as a share of a metric's level: a 1 % move is never more than one unit of noise.
REL_FLOOR = 0.01
#: The tail quantile of a metric's normal data that may score no more than its Gaussian equivalent
#: (chosen by ``bench/rca.py``'s protocol on all development data among none, 0.9, 0.95 and 0.99).
TAIL_P = 0.99
#: How a service's metrics combine into its score (see :mod:`hx.heal.rca_kinds`).
COMBINE = "family"
#: Fewer baseline values than this cannot estimate their own spread (IQR/MAD of a handful of points).
MIN_BASELINE = 5

_UP = re.compile(r"lat|p\d\d|duration|time|err|fail|fault|5xx|4xx|cpu|mem|sat|queue|util|gc|restart|disk|io|swap")
_DOWN = re.compile(r"avail|success|uptime|apdex|health")
#: Metrics that are a per-request average or ratio, so that rate x request volume is a total.
_PER_REQUEST = re.compile(r"lat|p\d\d|duration|time|avail|success|err|fail|apdex")
#: Load metrics that count requests (the volume behind a per-request metric).
_VOLUME = re.compile(r"req|rps|qps|throughput|calls")
_LOAD = re.compile(r"req|rps|qps|lod|load|traffic|throughput|replica|count|conn|sum")


def metric_direction(metric: str) -> int:
    """+1 if only a rise is harmful, -1 if only a fall is, 0 if either way; 2 marks a load metric.

    Load metrics (requests, traffic, replicas) are reported as evidence but never name a root cause.

    >>> [metric_direction(m) for m in ("latency_p95", "availability", "cpu", "request_rate", "foo")]
    [1, -1, 1, 2, 0]
    """
    name = metric.lower()
    if _DOWN.search(name):
        return -1
    if _LOAD.search(name) and not re.search(r"err|fail|lat|cpu|mem", name):
        return 2
    if _UP.search(name):
        return 1
    return 0


@dataclass(frozen=True)
class MetricEvidence:
    """How far one metric moved: its deviation (robust z, harmful direction, in the metric's own normal
    terms), when it crossed, its level in the judged window and the range expected from its normal data."""

    metric: str
    deviation: float
    onset: float | None
    change: float = 0.0  # the same move in the metric's own units (e.g. seconds of latency)
    level: float = math.nan  # the metric's median reading while the incident lasts
    expected: tuple[float, float] = (math.nan, math.nan)  # normal range: pre-onset level +- threshold scales
    window: tuple[float, float] = (math.nan, math.nan)  # first and last time judged (while the incident lasts)


@dataclass(frozen=True)
class Candidate:
    """One candidate root cause, best first in :func:`rank_root_causes`' answer.

    ``deviation`` is the service's own (its metrics combined, :func:`hx.heal.rca_kinds.service_score`: near-copies
    by their lower median), what says whether it is anomalous and what its ``score`` builds on; ``metric`` is the
    lead metric (the first to move, else the largest move), ``lead_deviation`` that metric's own deviation and
    ``onset`` when it moved.  The two deviations differ when the lead's near-copies moved less than it did.
    """

    service: str
    score: float
    metric: str
    onset: float | None
    explanation: str
    deviation: float = 0.0
    evidence: tuple[MetricEvidence, ...] = field(default=(), repr=False)
    lead_deviation: float = math.nan


@dataclass(frozen=True)
class _Graded:
    """A service's ranking score, the services that explain it, how many anomalous callers it would
    explain (-1: ordered by time, no graph) and whether it has an anomalous path to the alerting service."""

    score: float
    by: list[str]
    n_up: int
    linked: bool


@dataclass(frozen=True)
class _Window:
    base_rows: FloatArray | None  # baseline values (rows x columns) or None = use rows before onset
    onset_row: int
    onset_time: float
    how: str
    separate: bool = False


def _row_at(ts: FloatArray, t: float) -> int:
    """The row whose interval ``[ts[i], ts[i+1])`` holds time ``t``: a sample stamped at the start of its
    aggregation period already carries part of what happened during that period."""
    return max(int(np.searchsorted(ts, t, side="right")) - 1, 0)


def _check_start(anomaly_start: float | None) -> float | None:
    if anomaly_start is None:
        return None
    try:
        val = float(anomaly_start)
    except (TypeError, ValueError) as err:
        raise BadInput(f"anomaly_start must be a number, got {anomaly_start!r}", field="anomaly_start") from err
    if not math.isfinite(val):
        raise BadInput("anomaly_start must be a finite time", field="anomaly_start")
    return val


def _align_normal(normal: Any, table: MetricTable, known: Sequence[str]) -> FloatArray:
    """The normal data's columns in the incident's order; a metric it lacks is a column of gaps (judged against the
    rows before the alert time when there are such rows, else left out); none in common is refused."""
    ref = to_table(normal, known, name="normal")
    missing_from_normal(table, ref)
    index = {k: j for j, k in enumerate(ref.keys())}
    out = np.full((ref.n_rows, len(table.services)), np.nan)
    for j, key in enumerate(table.keys()):
        if key in index:
            out[:, j] = ref.values[:, index[key]]
    return out


def _window(
    table: MetricTable,
    ts: FloatArray,
    start: float | None,
    normal_base: FloatArray | None,
    normal_period: tuple[float, float] | None,
) -> _Window:
    n = table.n_rows
    if normal_base is not None:
        # with an alert time the rows before it are the level just before the incident (normal data recorded at
        # another time may sit at another level).  An alert that fires after its fault began then leaves no clear
        # cause, which the document says (Sock Shop with the alert 15-120 s late: 6-8 of 50 first).  Measured and
        # not kept: a change point after the normal data (PetShop high traffic 0.85 -> 0.77 at AC@1, the noissue
        # file's level taken for the onset), and ranking again from the first row when nothing moved (Sock Shop
        # 39-50 of 50, but Nezha's normal part of the day 0.89 -> 0.82 and PetShop's alert metric 0.91 -> 0.90).
        row = 0 if start is None else _row_at(ts, start)
        return _Window(normal_base, row, float(ts[min(row, n - 1)]), "separate normal data", separate=True)
    if normal_period is not None:
        t0, t1 = normal_period
        if not t0 <= t1:
            raise BadInput("normal_period must be (start, end) with start <= end", field="normal_period")
        mask = (ts >= t0) & (ts <= t1)
        if not mask.any():
            raise BadInput("normal_period covers no row of the data", field="normal_period")
        if start is not None and start <= t1:
            raise BadInput("anomaly_start must come after the normal period", field="anomaly_start")
        row = _row_at(ts, start) if start is not None else int(np.nonzero(mask)[0][-1]) + 1
        row = max(row, int(np.nonzero(mask)[0][-1]) + 1)
        if row >= n:
            raise BadInput("no data after the normal period to analyse", field="normal_period")
        return _Window(table.values[mask], row, float(ts[row]), "the given normal period")
    if n < 2:
        raise BadInput("need at least 2 rows to split into before and after the onset", field="metrics")
    alert = n - 1 if start is None else min(max(_row_at(ts, start), 1), n - 1)
    found = detect_onset(table.values, 1, alert)
    row = found.index if found.significant else alert
    how = "change point" if found.significant else ("alert time" if start is not None else "last row")
    return _Window(None, row, float(ts[row]), f"rows before the onset ({how})")


def _center_scale(
    values: FloatArray, win: _Window, metrics: Sequence[str], threshold: float, tail_p: float = TAIL_P
) -> tuple[FloatArray, FloatArray]:
    """Level and noise scale per column.

    The level is the median just before the onset when there are such rows (so a level that drifted since
    a separate normal period is not mistaken for the incident); the noise scale is the largest of the
    baseline's robust spread, the pre-onset spread and the 1 % floor.  A baseline of fewer than
    ``MIN_BASELINE`` values cannot tell its own spread: its relative noise is then taken from the peers,
    the spread across all such metrics of the same name of their relative change after the onset (most
    services are not at fault, so their changes say how much a metric of this kind moves by chance).
    """
    pre = values[: win.onset_row]
    ref = win.base_rows if win.base_rows is not None else pre
    center, scale = robust_center_scale(ref, REL_FLOOR)
    if win.base_rows is not None and win.separate and pre.shape[0]:
        c_pre, s_pre = robust_center_scale(pre, REL_FLOOR)
        has_pre = ~np.isnan(c_pre)
        # the level drifted this far from the normal data without an incident: such a move alone is not one
        drift = np.abs(np.nan_to_num(c_pre - center, nan=0.0)) / threshold
        scale = np.where(has_pre, np.fmax(np.fmax(scale, s_pre), drift), scale)
        center = np.where(has_pre, c_pre, center)
    short = (~np.isnan(ref)).sum(axis=0) < MIN_BASELINE
    if short.any() and win.onset_row < values.shape[0]:
        scale = np.where(short, np.fmax(scale, _peer_scale(values[win.onset_row :], center, metrics, short)), scale)
    scale = np.fmax(scale, scale_floor(np.nan_to_num(center, nan=0.0), REL_FLOOR))
    return center, np.fmax(scale, _own_floor(ref, win.base_rows is not None, metrics, tail_p))


def _own_floor(ref: FloatArray, known_normal: bool, metrics: Sequence[str], tail_p: float) -> FloatArray:
    """The scale floor from a metric's own normal data: its resolution and its normal tail quantile, so that
    a value common in normal rows cannot score as extreme.  Only for a baseline of known normal data: the
    rows just before an onset found in the data may hold the incident's first signs."""
    if not known_normal:
        return np.zeros(ref.shape[1])
    floor = resolution(ref)
    if not 0.5 < tail_p < 1.0:  # tail_p outside (0.5, 1): no tail floor
        return floor
    signs = np.array([metric_direction(m) for m in metrics])
    return np.fmax(floor, tail_spread(ref, signs, tail_p))


def _peer_scale(post: FloatArray, center: FloatArray, metrics: Sequence[str], mask: np.ndarray) -> FloatArray:
    """Noise scale from peers: robust spread of relative post-onset change among same-named metrics."""
    level = np.abs(np.nan_to_num(center, nan=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (nan_median(post) - center) / level
    rel = np.where(np.isfinite(rel), rel, np.nan)
    out = np.zeros(len(metrics))
    names = np.array(metrics)
    for name in set(names[mask]):
        group = (names == name) & mask & ~np.isnan(rel)
        if group.sum() < 3:
            group = mask & ~np.isnan(rel)
        if not group.any():
            continue
        r = rel[group]
        spread = MAD_TO_SIGMA * float(np.median(np.abs(r - np.median(r))))
        sel = (names == name) & mask
        out[sel] = spread * level[sel]
    return out


def _incident_rows(zs: FloatArray, onset_row: int, alert_cols: Sequence[int], threshold: float) -> npt.NDArray[np.intp]:
    """The post-onset rows during which the alerting service shows the symptom: any of its non-load
    metrics at or past ``threshold``, or past half its peak when it never gets that far (the alert says
    the symptom is real).  A short or transient incident is judged while it lasts, not diluted by the
    quiet rows around it.  All post-onset rows when no alerting service is known or it never moved."""
    rows = np.arange(onset_row, zs.shape[0], dtype=np.intp)
    if not alert_cols or not rows.size:
        return rows
    symptom = np.nan_to_num(zs[onset_row:, list(alert_cols)], nan=0.0).max(axis=1)
    peak = float(symptom.max())
    if peak <= 0:
        return rows
    keep: npt.NDArray[np.intp] = rows[symptom >= min(threshold, peak / 2)]
    return keep


@dataclass(frozen=True)
class _Moves:
    """Per column: the harmful-direction deviation (robust sd) while the incident lasts, the same in the
    metric's own units, the row where it first crossed ``threshold``, the level during the incident and the
    expected range (level before the onset +- ``threshold`` noise scales); and the rows judged."""

    dev: FloatArray
    change: FloatArray
    first: FloatArray
    level: FloatArray
    low: FloatArray
    high: FloatArray
    rows: npt.NDArray[np.intp]


def _deviations(
    table: MetricTable, win: _Window, threshold: float, alert_cols: Sequence[int] = (), tail_p: float = TAIL_P
) -> _Moves:
    """How far every column moved while the incident lasts (see :class:`_Moves`)."""
    center, scale = _center_scale(table.values, win, table.metrics, threshold, tail_p)
    z = (table.values - center) / scale
    signs = np.array([metric_direction(m) for m in table.metrics])
    zs = np.where(signs == -1, -z, np.where(signs == 1, z, np.abs(z)))
    rows = _incident_rows(zs, win.onset_row, alert_cols, threshold)
    post = zs[rows]
    dev = nan_median(post) if post.shape[0] else np.full(zs.shape[1], np.nan)
    sparse = (~np.isnan(post)).sum(axis=0) * 2 < post.shape[0]  # a shift needs most of the window observed
    dev = np.where(sparse, np.nan, dev)
    dev = np.where(np.isnan(center), np.nan, dev)
    level = nan_median(table.values[rows]) if rows.size else np.full(zs.shape[1], np.nan)
    first = _first_crossing(zs, win.onset_row, threshold)
    return _Moves(dev, dev * scale, first, level, center - threshold * scale, center + threshold * scale, rows)


def _first_crossing(zs: FloatArray, onset_row: int, threshold: float) -> FloatArray:
    """Row where each column's excursion that is under way at (or first after) the onset began; -1 if none."""
    crossed = np.nan_to_num(zs, nan=0.0) >= threshold
    first = np.full(zs.shape[1], -1.0)
    for j in range(zs.shape[1]):
        after = np.nonzero(crossed[onset_row:, j])[0]
        if not after.size:
            continue
        r = onset_row + int(after[0])
        while r > 0 and crossed[r - 1, j]:
            r -= 1
        first[j] = r
    return first


def _service_evidence(table: MetricTable, mv: _Moves, ts: FloatArray) -> dict[str, list[MetricEvidence]]:
    out: dict[str, list[MetricEvidence]] = {}
    window = (float(ts[mv.rows[0]]), float(ts[mv.rows[-1]])) if mv.rows.size else (math.nan, math.nan)
    for j, (svc, met) in enumerate(table.keys()):
        if np.isnan(mv.dev[j]):
            continue
        onset = float(ts[int(mv.first[j])]) if mv.first[j] >= 0 else None
        expected = (float(mv.low[j]), float(mv.high[j]))
        one = MetricEvidence(met, float(mv.dev[j]), onset, float(mv.change[j]), float(mv.level[j]), expected, window)
        out.setdefault(svc, []).append(one)
    for ev in out.values():
        ev.sort(key=lambda e: -e.deviation)
    return out


def _lead_metric(evidence: list[MetricEvidence], threshold: float) -> MetricEvidence | None:
    naming = [e for e in evidence if metric_direction(e.metric) != 2]
    if not naming:
        return None
    moved = [e for e in naming if e.deviation >= threshold and e.onset is not None]
    if moved:
        return min(moved, key=lambda e: (e.onset, -e.deviation))
    return max(naming, key=lambda e: e.deviation)


def _effective_callees(graph: Mapping[str, Sequence[str]], svc: str, has_data: set[str]) -> set[str]:
    """Callees of ``svc``, looking through callees that have no data of their own."""
    out: set[str] = set()
    stack, seen = list(graph.get(svc, ())), {svc}
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        if c in has_data:
            out.add(c)
        else:
            stack.extend(graph.get(c, ()))
    return out


def _volume(evidence: Sequence[MetricEvidence]) -> dict[str, float]:
    """A service's request volume during the incident, per request-count metric name."""
    return {
        e.metric: e.level
        for e in evidence
        if _VOLUME.search(e.metric.lower()) and math.isfinite(e.level) and e.level > 0
    }


def _covered_share(
    evidence: Mapping[str, Sequence[MetricEvidence]], caller: str, callee: str, *, totals_only: bool = False
) -> float:
    """How much of the caller's main move the callee's move of the same metric can account for, in [0, 1].

    Latency adds up along a call and failures pass up at most one for one, so a callee whose latency rose
    by 3 ms cannot explain a caller's 400 ms; when the callee lacks the caller's metric, assume it can.
    A per-request metric (latency, availability, error rate) is compared in totals when both services
    report the same request-count metric: 5 failed calls in a callee cannot explain 30 failed requests
    in its caller however steep the callee's failure *rate*, and likewise for the time spent.  With
    ``totals_only``, a comparison that cannot be made in totals assumes the callee can account for it.
    """
    top = max(evidence[caller], key=lambda e: e.deviation if metric_direction(e.metric) != 2 else -np.inf)
    mine = next((e for e in evidence.get(callee, ()) if e.metric == top.metric), None)
    if mine is None or top.change <= 0:
        return 1.0
    ratio = mine.change / top.change
    v_caller, v_callee = _volume(evidence[caller]), _volume(evidence.get(callee, ()))
    common = sorted(set(v_caller) & set(v_callee)) if _PER_REQUEST.search(top.metric.lower()) else []
    if common:
        ratio *= v_callee[common[0]] / v_caller[common[0]]
    elif totals_only:
        return 1.0
    return float(np.clip(ratio, 0.0, 1.0))


def _anomalous_callers(
    callers: Mapping[str, Sequence[str]], svc: str, scores: Mapping[str, float], threshold: float
) -> set[str]:
    """Services upstream of ``svc`` reachable through anomalous callers (callers without data are looked through)."""
    out: set[str] = set()
    stack, seen = list(callers.get(svc, ())), {svc}
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if u not in scores:
            stack.extend(callers.get(u, ()))
        elif scores[u] >= threshold:
            out.add(u)
            stack.extend(callers.get(u, ()))
    return out


def _propagate(
    scores: dict[str, float],
    onsets: dict[str, float | None],
    graph: Mapping[str, Sequence[str]],
    threshold: float,
    step: float,
    alert: str | None = None,
    evidence: Mapping[str, Sequence[MetricEvidence]] | None = None,
) -> dict[str, _Graded]:
    """Graph score per service: (own + explained upstream anomaly) x (share not explained by callees), and
    whether an anomalous path leads from the service up to the alerting service (True when none is named)."""
    has_data = set(scores)
    callers: dict[str, list[str]] = {}
    for caller, callees in graph.items():
        for c in callees:
            callers.setdefault(c, []).append(caller)
    evidence_keys = set(scores) if evidence is None else set(evidence)
    marked = dict(scores)
    if alert is not None and alert in marked:
        marked[alert] = max(marked[alert], threshold)  # the alert says the alerting service is anomalous
    out: dict[str, _Graded] = {}
    for svc, a in scores.items():
        factor, by = 1.0, []
        for c in sorted(_effective_callees(graph, svc, has_data)):
            ac, oc, os_ = scores[c], onsets.get(c), onsets.get(svc)
            later = oc is not None and os_ is not None and oc > os_ + step
            share = _covered_share(evidence, svc, c) if evidence is not None else 1.0
            if ac >= threshold and not later and share > 0:
                factor *= 1.0 - share * (1.0 - threshold / ac)
                by.append(c)
        own = max(a, 0.0)
        upstream = _anomalous_callers(callers, svc, marked, threshold) if own >= threshold else set()
        explained = sum(
            min(max(scores[u], 0.0), own) * (_covered_share(evidence, u, svc) if evidence is not None else 1.0)
            for u in upstream
            if u in evidence_keys
        )
        linked = alert is None or (own >= threshold and (svc == alert or alert in upstream))
        # a root cause of the alert must account for the alert's own move; checked in totals only, since a
        # per-request rate alone cannot tell a callee called k times per request from a partial cause
        accounts = (
            _covered_share(evidence, alert, svc, totals_only=True)
            if evidence is not None and alert is not None and alert in evidence and svc != alert and linked
            else 1.0
        )
        out[svc] = _Graded((own + explained) * factor * accounts, by, len(upstream), linked)
    return out


def _precedence(
    scores: dict[str, float], onsets: dict[str, float | None], threshold: float, step: float
) -> dict[str, _Graded]:
    """Without a graph, time is the only order: an anomalous service that moved clearly earlier (by more
    than one sample) may have caused a later one, and explains it as an anomalous callee would."""
    out: dict[str, _Graded] = {}
    for svc, a in scores.items():
        factor, by = 1.0, []
        mine = onsets.get(svc)
        for c, ac in sorted(scores.items()):
            oc = onsets.get(c)
            if c != svc and ac >= threshold and oc is not None and mine is not None and oc < mine - step:
                factor *= threshold / ac
                by.append(c)
        out[svc] = _Graded(max(a, 0.0) * factor, by, -1, True)
    return out


def _t(t: float) -> str:
    """A time as the explanation says it: UTC to the second for Unix times, else the row's own number."""
    if t >= 1e8:
        return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"t={t:g}"


def _explain(
    svc: str, lead: MetricEvidence, own: float, g: _Graded, how: str, threshold: float, combine: str = COMBINE
) -> str:
    """The candidate in words: its lead metric with that metric's own deviation, and the service's own deviation
    (``own``, what its score builds on) when that reads differently."""
    by, n_up = g.by, g.n_up
    moved = "moved" if lead.deviation >= threshold else "moved little"
    when = f" from {_t(lead.onset)}" if lead.onset is not None else ""
    text = f"{svc}: {lead.metric} {moved} ({lead.deviation:.1f} robust sd{when}; baseline: {how})"
    if math.isfinite(lead.level) and math.isfinite(lead.window[0]):
        lo, hi = lead.expected
        text += f"; {lead.level:.4g} over {_t(lead.window[0])}..{_t(lead.window[1])}, expected {lo:.4g} to {hi:.4g}"
    if math.isfinite(own) and f"{own:.1f}" != f"{lead.deviation:.1f}":
        combined = "its largest move" if combine == "max" else "its best kind, near-copies by their lower median"
        text += f"; the service's own deviation {own:.1f} robust sd ({combined})"
    if n_up > 0:
        text += f"; would explain {n_up} anomalous upstream caller(s)"
    if by:
        kind = "anomalous callee(s)" if n_up >= 0 else "earlier anomalies in"
        text += f"; partly explained by {kind} {', '.join(by)}"
    return text


def rank_root_causes(
    metrics: Any,
    timestamps: Any = None,
    anomaly_start: float | None = None,
    graph: Mapping[str, Sequence[str]] | None = None,
    *,
    normal: Any = None,
    normal_period: tuple[float, float] | None = None,
    services: Sequence[str] = (),
    alert_service: str | None = None,
    threshold: float = 3.0,
    tail_quantile: float = TAIL_P,
    kind_weights: Mapping[str, float] | None = None,
    combine: str = COMBINE,
) -> list[Candidate]:
    """Rank candidate root-cause services, most likely first.

    ``metrics``: ``{service: {metric: values}}``, ``{"service_metric": values}`` or a frame with such
    columns; ``timestamps``: one per row (default ``0..n-1``); ``anomaly_start``: alert time, if known;
    ``graph``: ``{caller: [callees]}``; ``normal``: separate normal-operation data of the same shape (any
    length); ``normal_period``: ``(start, end)`` of known normal rows.  Services with no usable metric
    (all gaps, or only load metrics) are left out.

    >>> t = np.arange(40.0)
    >>> db = np.r_[np.ones(20), np.full(20, 9.0)]
    >>> api = np.r_[np.ones(22), np.full(18, 4.0)]
    >>> ranked = rank_root_causes({"api": {"latency": api}, "db": {"latency": db}}, t, graph={"api": ["db"]})
    >>> [c.service for c in ranked], ranked[0].onset
    (['db', 'api'], 20.0)
    """
    if not threshold > 0:
        raise BadInput("threshold must be positive", field="threshold")
    calls = check_graph(graph)
    known = sorted({*calls, *(c for cs in calls.values() for c in cs), *services})
    table = to_table(metrics, known)
    ts = check_timestamps(timestamps, table.n_rows)
    start = _check_start(anomaly_start)
    normal_base = None if normal is None else _align_normal(normal, table, known)
    win = _window(table, ts, start, normal_base, normal_period)
    alert_cols = [j for j, (svc, met) in enumerate(table.keys()) if svc == alert_service and metric_direction(met) != 2]
    evidence = _service_evidence(table, _deviations(table, win, threshold, alert_cols, tail_quantile), ts)
    leads = {s: lm for s, ev in evidence.items() if (lm := _lead_metric(ev, threshold)) is not None}
    naming = {s: [e for e in evidence[s] if metric_direction(e.metric) != 2] for s in leads}
    scores = {s: service_score(naming[s], {}, combine) for s in leads}
    onsets = {s: leads[s].onset for s in leads}
    step = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.0
    prop = (
        _propagate(scores, onsets, calls, threshold, step, alert_service, evidence)
        if calls
        else _precedence(scores, onsets, threshold, step)
    )
    weights = DEFAULT_KIND_WEIGHTS if kind_weights is None else kind_weights
    prop = {s: _weighed(g, naming[s], scores[s], weights, combine) for s, g in prop.items()}
    return _assemble(leads, scores, prop, evidence, win.how, threshold, alert_service, combine)


def _weighed(
    g: _Graded, naming: Sequence[MetricEvidence], raw: float, weights: Mapping[str, float], combine: str
) -> _Graded:
    """The ranking score scaled by how much the service's kinds weigh.  Weights act on the order only, after
    propagation: whether a service is anomalous (past ``threshold``) stays a matter of its own deviations."""
    if not weights or raw <= 0:
        return g
    ratio = max(service_score(naming, weights, combine), 0.0) / raw
    return _Graded(g.score * ratio, g.by, g.n_up, g.linked)


def _assemble(
    leads: Mapping[str, MetricEvidence],
    scores: Mapping[str, float],
    graded: Mapping[str, _Graded],
    evidence: Mapping[str, Sequence[MetricEvidence]],
    how: str,
    threshold: float,
    alert_service: str | None,
    combine: str = COMBINE,
) -> list[Candidate]:
    ranked = sorted(leads, key=lambda s: (not graded[s].linked, -graded[s].score, -scores[s], s))
    out = []
    for s in ranked:
        g, lead = graded[s], leads[s]
        text = _explain(s, lead, scores[s], g, how, threshold, combine)
        if not g.linked:
            text += f"; no anomalous call path up to the alerting service {alert_service}"
        out.append(Candidate(s, g.score, lead.metric, lead.onset, text, scores[s], tuple(evidence[s]), lead.deviation))
    return out

"""Metric kinds and the per-service combination of metric evidence for root-cause analysis.

A service reports many metrics, several of them near-copies of each other (the P90, P95 and P99 of one
latency).  Its score combines them so that one noisy metric cannot dominate it:

* metrics are grouped into **families** (the name without its quantile token: ``PodClientLatencyP99(s)``
  and ``PodClientLatencyP90(s)`` are one family); with ``combine="family"`` a family counts with the
  lower median deviation of its members, so a single sparse quantile that spikes cannot carry the service alone;
* families are grouped into **kinds** (latency, errors, cpu, memory, rate, other), each weighed by how
  often a metric of that kind moves at a true root cause relative to how often it moves elsewhere (the
  weights are fitted on development data, see :func:`fit_kind_weights`);
* the service scores its best weighted kind.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

__all__ = ["DEFAULT_KIND_WEIGHTS", "KINDS", "fit_kind_weights", "metric_family", "metric_kind", "service_score"]

KINDS = ("latency", "errors", "cpu", "memory", "rate", "other")
_KIND_RULES = (
    ("errors", re.compile(r"err|fail|fault|5xx|4xx|avail|success|apdex|health")),
    ("latency", re.compile(r"lat|p\d\d|duration|time")),
    ("cpu", re.compile(r"cpu")),
    ("memory", re.compile(r"mem|swap|gc|heap")),
    ("rate", re.compile(r"req|rps|qps|load|traffic|throughput|ops|byte|syscall|io|net|count|conn|sum")),
)
_QUANTILE = re.compile(r"p\d{2,3}|quantile|median|mean|avg|max|min")

#: Kind weights fitted by ``bench/rca.py`` (:func:`fit_kind_weights`) on all development data (Sock Shop,
#: PetShop, Nezha Online Boutique); the cross-validated figures fit them inside each training fold instead.
#: They scale the ranking only: whether a service is anomalous stays a matter of its own deviations.
DEFAULT_KIND_WEIGHTS: Mapping[str, float] = {
    "latency": 0.561,
    "errors": 0.478,
    "cpu": 0.307,
    "memory": 1.0,
    "rate": 0.25,
    "other": 0.25,
}


def metric_kind(metric: str) -> str:
    """The kind of a metric, from its name: latency, errors, cpu, memory, rate or other.

    >>> [metric_kind(m) for m in ("PodClientLatencyP99(s)", "availability", "CpuUsageRate(%)", "mem", "rps")]
    ['latency', 'errors', 'cpu', 'memory', 'rate']
    """
    name = metric.lower()
    return next((kind for kind, rule in _KIND_RULES if rule.search(name)), "other")


def metric_family(metric: str) -> str:
    """The metric's name without its quantile or statistic token (its family).

    >>> metric_family("PodClientLatencyP99(s)") == metric_family("PodClientLatencyP90(s)")
    True
    """
    return _QUANTILE.sub("#", metric.lower())


class _Evidence(Protocol):
    @property
    def metric(self) -> str: ...

    @property
    def deviation(self) -> float: ...


def service_score(evidence: Iterable[_Evidence], weights: Mapping[str, float], combine: str = "family") -> float:
    """A service's score from its metrics' deviations (robust sd): the best kind, weighed.

    With ``combine="max"`` every metric counts on its own (the service scores its largest deviation, weighed
    by its kind); with ``"family"`` a family of near-copies counts with its members' lower median deviation.

    >>> from types import SimpleNamespace as E
    >>> ev = [E(metric=m, deviation=d) for m, d in (("lat_p99", 400.0), ("lat_p90", 1.0), ("lat_p50", 0.5))]
    >>> service_score(ev, {}, "max"), service_score(ev, {}, "family")
    (400.0, 1.0)
    """
    families: dict[tuple[str, str], list[float]] = {}
    for e in evidence:
        if math.isfinite(e.deviation):
            families.setdefault((metric_kind(e.metric), metric_family(e.metric)), []).append(e.deviation)
    if not families:
        return -math.inf
    best = -math.inf
    for (kind, _), devs in families.items():
        value = max(devs) if combine == "max" else sorted(devs)[(len(devs) - 1) // 2]  # the lower median
        best = max(best, weights.get(kind, 1.0) * value)
    return best


def fit_kind_weights(
    cases: Sequence[tuple[str, Mapping[str, Sequence[_Evidence]]]], threshold: float, floor: float = 0.25
) -> dict[str, float]:
    """Kind weights from development cases ``(true root, {service: evidence})``: for each kind, the share of
    true roots where a metric of that kind moved past ``threshold`` over the share of other services where
    one did (a likelihood ratio, with one pseudo-count each way), scaled so the best kind weighs 1 and
    floored at ``floor`` (a kind never seen at a root still counts a little)."""
    hits = {k: [0.0, 0.0, 0.0, 0.0] for k in KINDS}  # root moved, root seen, other moved, other seen
    for truth, evidence in cases:
        for svc, ev in evidence.items():
            moved = {metric_kind(e.metric): False for e in ev}
            for e in ev:
                moved[metric_kind(e.metric)] |= e.deviation >= threshold
            off = 0 if svc == truth else 2
            for kind, m in moved.items():
                hits[kind][off] += float(m)
                hits[kind][off + 1] += 1.0
    ratio = {k: ((h[0] + 1) / (h[1] + 2)) / ((h[2] + 1) / (h[3] + 2)) for k, h in hits.items()}
    top = max(ratio.values())
    return {k: round(max(r / top, floor), 3) for k, r in ratio.items()}

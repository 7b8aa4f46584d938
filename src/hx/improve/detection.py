"""The detector's evaluation on labelled anomalies: precision overall, by signal and by detector, and the lowest
alert threshold that would have met the precision gate on the labelled set.

Pure functions over plain rows (the ``anomaly_labels`` table, read in :func:`gather`): the cycle adds the review to
its report, so a failing ``detect.precision`` gate comes with a threshold to try.

>>> rows = [LabelledAnomaly("api", "latency_p95", 0.99, ("robust",), True),
...         LabelledAnomaly("api", "latency_p95", 0.85, ("seasonal",), False)]
>>> r = review(rows, current_threshold=0.8, target=0.95)
>>> r["precision"], r["suggested_threshold"]
(0.5, 0.99)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hx.store.tables import anomaly_labels

if TYPE_CHECKING:
    from hx.platform import Platform


@dataclass(frozen=True)
class LabelledAnomaly:
    """One labelled anomaly as the detector saw it."""

    service: str
    signal: str
    score: float | None
    detectors: tuple[str, ...]
    true_positive: bool


def _precision(rows: Sequence[LabelledAnomaly]) -> float | None:
    return round(sum(r.true_positive for r in rows) / len(rows), 4) if rows else None


def _by(rows: Sequence[LabelledAnomaly], keys: Any) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[LabelledAnomaly]] = defaultdict(list)
    for r in rows:
        for k in keys(r):
            groups[k].append(r)
    return {k: {"n": len(v), "precision": _precision(v)} for k, v in sorted(groups.items())}


def sweep(rows: Sequence[LabelledAnomaly]) -> list[dict[str, Any]]:
    """At each labelled score taken as the threshold: the precision and the true positives still caught."""
    scored = [r for r in rows if r.score is not None]
    out = []
    for t in sorted({float(r.score) for r in scored if r.score is not None}):
        kept = [r for r in scored if r.score is not None and r.score >= t]
        out.append({"threshold": t, "n": len(kept), "precision": _precision(kept),
                    "true_positives": sum(r.true_positive for r in kept)})  # fmt: skip
    return out


def review(rows: Sequence[LabelledAnomaly], current_threshold: float, target: float | None) -> dict[str, Any]:
    """The detector's review for the cycle's report."""
    points = sweep(rows)
    meets = [p for p in points if target is not None and p["precision"] is not None and p["precision"] >= target]
    return {
        "labelled": len(rows),
        "true_positives": sum(r.true_positive for r in rows),
        "precision": _precision(rows),
        "target": target,
        "current_threshold": current_threshold,
        "by_signal": _by(rows, lambda r: [r.signal]),
        "by_detector": _by(rows, lambda r: list(r.detectors) or ["?"]),
        "sweep": points,
        "suggested_threshold": meets[0]["threshold"] if meets else None,
    }


def gather(platform: Platform, now: datetime, window_s: float) -> list[LabelledAnomaly]:
    c = anomaly_labels.c
    since = now - timedelta(seconds=window_s)
    q = select(c.service, c.signal, c.score, c.detectors, c.true_positive).where(
        c.labelled_at >= since, c.labelled_at <= now
    )
    with platform.store.begin() as conn:
        rows = conn.execute(q.order_by(c.id).limit(100_000)).all()
    return [LabelledAnomaly(r.service, r.signal, r.score, tuple(r.detectors or ()), bool(r.true_positive))
            for r in rows]  # fmt: skip

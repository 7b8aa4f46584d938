"""The root-cause document: one ranking, the same JSON from ``hx rca --json`` and ``POST /api/v1/rca``.

:func:`rca_document` checks what only a whole request can tell (an ``alert_service`` that names no service, an
input too large to rank at once), ranks with :func:`hx.heal.rca.rank_root_causes` and lays the candidates out as
rows with their evidence.  Non-finite numbers are ``null``; times are Unix seconds.

>>> import numpy as np
>>> t = np.arange(40.0)
>>> db = np.r_[np.ones(20), np.full(20, 9.0)]
>>> doc = rca_document({"db": {"latency": db}}, t)
>>> doc["rows"], doc["candidates"][0]["service"], doc["candidates"][0]["evidence"][0]["onset"]
(40, 'db', 20.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hx.errors import BadInput, TooLarge
from hx.heal.rca import Candidate, MetricEvidence, rank_root_causes
from hx.heal.rca_input import MetricTable, check_graph, missing_from_normal, to_table

#: the most values (rows x metrics, the normal data's included) one ranking takes: about a second of CPU
MAX_CELLS = 2_000_000

__all__ = ["MAX_CELLS", "candidate_rows", "rca_document"]


#: a candidate is a clear cause past this many robust sd (rank_root_causes' default threshold)
CLEAR_SD = 3.0


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _evidence(e: MetricEvidence) -> dict[str, Any]:
    return {
        "metric": e.metric,
        "deviation_robust_sd": _num(e.deviation),
        "onset": e.onset,
        "change": _num(e.change),
        "level": _num(e.level),
        "expected": [_num(e.expected[0]), _num(e.expected[1])],
        "window": [_num(e.window[0]), _num(e.window[1])],
    }


def candidate_rows(ranked: Sequence[Candidate]) -> list[dict[str, Any]]:
    """The ranked candidates as JSON rows, best first, each with its evidence metric by metric.

    ``deviation_robust_sd`` is the service's own (its metrics combined; what ``clear`` and ``score`` build on);
    ``metric`` is the lead metric and ``lead_deviation_robust_sd`` that metric's own deviation (its evidence row).
    """
    return [
        {
            "rank": i + 1,
            "service": r.service,
            "score": _num(r.score),
            "deviation_robust_sd": _num(r.deviation),
            "metric": r.metric,
            "lead_deviation_robust_sd": _num(r.lead_deviation),
            "onset": r.onset,
            "explanation": r.explanation,
            "evidence": [_evidence(e) for e in r.evidence],
        }
        for i, r in enumerate(ranked)
    ]


def _cells(metrics: Any) -> int:
    """Values in ``metrics`` ({service: {metric: values}} or {"service_metric": values}), counted cheaply."""
    if not isinstance(metrics, Mapping):
        return 0
    n = 0
    for v in metrics.values():
        n += _cells(v) if isinstance(v, Mapping) else len(v) if hasattr(v, "__len__") else 0
    return n


def check_size(metrics: Any, normal: Any = None, *, field: str = "metrics") -> None:
    """Refuse (413, naming :data:`MAX_CELLS`) an input whose ranking would hold the CPU for long."""
    n = _cells(metrics) + _cells(normal)
    if n > MAX_CELLS:
        raise TooLarge(
            f"{field}: {n} values (rows x metrics, normal data included); the limit is {MAX_CELLS} per request: "
            "send fewer rows (the minutes around the incident) or fewer metrics",
            field=field,
            limit=MAX_CELLS,
        )


def _known(graph: Mapping[str, Sequence[str]] | None) -> list[str]:
    calls = check_graph(graph)
    return sorted({*calls, *(c for cs in calls.values() for c in cs)})


def _check_alert_service(
    alert_service: str | None, metrics: Any, graph: Mapping[str, Sequence[str]] | None
) -> MetricTable:
    """The metrics as one table, after refusing an ``alert_service`` that is in neither the metrics nor the graph."""
    known = _known(graph)
    table = to_table(metrics, known)
    services = {*table.services, *known}
    if alert_service is not None and alert_service not in services:
        shown = ", ".join(sorted(services)[:20]) + (", ..." if len(services) > 20 else "")
        raise BadInput(
            f"alert_service {alert_service!r} is not a service of the metrics or the call graph (known: {shown})",
            field="alert_service",
        )
    return table


def _missing_note(missing: Sequence[str], n_metrics: int, name: str, alert_time: float | None) -> str:
    shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
    what = (
        "judged against the rows before the alert time instead (left out if there are none)"
        if alert_time is not None
        else "left out of the ranking (with an alert time they are judged against the rows before it)"
    )
    return f"{len(missing)} of {n_metrics} metrics have no normal data in {name} ({shown}): {what}"


def rca_document(
    metrics: Any,
    timestamps: Any = None,
    alert_time: float | None = None,
    graph: Mapping[str, Sequence[str]] | None = None,
    *,
    normal: Any = None,
    alert_service: str | None = None,
    top: int | None = None,
    normal_name: str = "normal",
    normal_field: str = "normal",
) -> dict[str, Any]:
    """``{"rows": n, "clear": bool, "note": str | None, "normal_missing": [...], "candidates": [...]}``: the ranking
    of :func:`rank_root_causes` with its evidence (the first ``top`` candidates, or all); ``clear`` says whether any
    service moved past :data:`CLEAR_SD` robust sd, and a ``note`` says what a ranking without one is worth.

    ``normal_missing`` lists the incident's metrics the normal data lacks, and the note says what became of them;
    normal data sharing no metric with the incident is refused naming ``normal_name`` (the file or field as the
    caller knows it) and ``normal_field``."""
    check_size(metrics, normal)
    table = _check_alert_service(alert_service, metrics, graph)
    missing = []
    if normal is not None:  # none in common is refused; a metric missing is said
        ref = to_table(normal, _known(graph), name=normal_name)
        missing = missing_from_normal(table, ref, normal_name, normal_field)
    ranked = rank_root_causes(metrics, timestamps, alert_time, graph, normal=normal, alert_service=alert_service)
    rows = candidate_rows(ranked)
    clear = any(c.deviation >= CLEAR_SD for c in ranked)
    notes = []
    if not clear:
        notes.append(
            f"no service moved past {CLEAR_SD:g} robust sd: no clear cause, the order is weak evidence (too few "
            "rows to learn the normal level from, or a fault these metrics do not show)"
        )
        if normal is not None and alert_time is not None:
            notes[-1] += (
                "; the rows before the alert time are taken as the level just before the incident: if the fault "
                "began before the alert, give its start as the alert time, or none to judge every row against "
                "the normal data"
            )
    if missing:
        notes.append(_missing_note(missing, len(table.metrics), normal_name, alert_time))
    return {
        "rows": table.n_rows,
        "clear": clear,
        "note": "; ".join(notes) or None,
        "normal_missing": missing,
        "candidates": rows if top is None else rows[:top],
    }

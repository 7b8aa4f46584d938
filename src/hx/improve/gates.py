"""Quality gates: bounds on KPIs, evaluated as a pure function.

>>> from hx.config import QualityGate
>>> g = [QualityGate(name="cfr", metric="deploy.change_failure_rate", max=0.15)]
>>> [r.status for r in evaluate(g, {"deploy.change_failure_rate": 0.2})]
['fail']
>>> [(r.status, r.note) for r in evaluate(g, {"deploy.change_failure_rate": None})]
[('no_data', 'no rollout finished in the KPI window')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hx.config import QualityGate
from hx.errors import ConfigError

GateStatus = Literal["pass", "fail", "no_data"]
MODEL_KPI = re.compile(r"^model\.(?P<name>[a-z0-9_.\-]+)\.(?P<what>live_accuracy|rules_accuracy)$")

# What a failing gate suggests, by KPI: the optimisation cycle's recommendations.
ADVICE: Mapping[str, str] = {
    "deploy.change_failure_rate": "more rollouts fail than the gate allows: lengthen canary analysis "
    "(ai_orchestrator.canary.analysis_interval_s) or raise ai_orchestrator.decision_engine.confidence_threshold so "
    "more changes take the conservative strategy",
    "deploy.median_rollout_s": "rollouts are slow: review approval waits and canary step pauses",
    "heal.mttr_median_s": "incidents take long to resolve: add runbooks for the classes escalated most often",
    "heal.mttr_p90_s": "the slowest incidents take long: check escalation delays and runbook verify timeouts",
    "heal.auto_resolved_rate": "few incidents heal automatically: label escalated incidents so the classifier "
    "learns them, and add runbooks for their classes",
    "heal.escalation_rate": "many incidents reach people: see which classes escalate and give them runbooks",
    "detect.precision": "too many labelled anomalies were noise: the cycle's detector review names the threshold "
    "that would have met the gate on the labelled set (intelligent_monitoring.anomaly_detection.alert_threshold)",
    "detect.anomalies_per_day": "anomaly alerts are frequent: raise intelligent_monitoring.anomaly_detection."
    "alert_threshold or lower its sensitivity for noisy signals",
}

#: Why a KPI has no value (a gate's ``no_data``), by KPI: what the window lacked, and where the data comes from.
NO_DATA: Mapping[str, str] = {
    "deploy.change_failure_rate": "no rollout finished in the KPI window",
    "deploy.median_rollout_s": "no rollout finished in the KPI window",
    "heal.mttr_median_s": "no reactive incident (opened by alerts) was resolved in the KPI window; incidents hx "
    "predicted and headed off count in heal.auto_resolved_rate, not in MTTR",
    "heal.mttr_p90_s": "no reactive incident (opened by alerts) was resolved in the KPI window",
    "heal.auto_resolved_rate": "no incident was resolved in the KPI window",
    "heal.escalation_rate": "no incident was opened in the KPI window",
    "detect.precision": "no anomaly of the KPI window was labelled: label anomalies true or false positives (the "
    "operations dashboard, or POST /api/v1/anomalies/{id}/label)",
}
MODEL_NO_DATA = "no labelled outcome of the model in use yet (its live accuracy needs people's labels)"


@dataclass(frozen=True)
class GateResult:
    name: str
    metric: str
    value: float | None
    min: float | None
    max: float | None
    status: GateStatus
    advice: str | None
    #: with ``no_data``: why the KPI has no value
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_metrics(
    gates: Sequence[QualityGate], known: Iterable[str], models: Iterable[str], *, file: str | None = None
) -> None:
    """Refuse a gate on a KPI nobody computes, naming the key (and the ``file`` it came from) and the valid names."""
    names, model_names = set(known), set(models)
    for i, g in enumerate(gates):
        m = MODEL_KPI.match(g.metric)
        if g.metric in names or (m is not None and m["name"] in model_names):
            continue
        valid = sorted(names) + [f"model.{n}.live_accuracy" for n in sorted(model_names)]
        raise ConfigError(
            f"unknown KPI {g.metric!r}",
            file=file,
            key=f"continuous_improvement.quality_gates.{i}.metric",
            expected="one of " + ", ".join(valid),
        )


def no_data_note(metric: str) -> str | None:
    """Why a KPI has no value when none was recorded, where hx knows (``None`` where it does not)."""
    return NO_DATA.get(metric) or (MODEL_NO_DATA if metric.startswith("model.") else None)


def evaluate(gates: Sequence[QualityGate], values: Mapping[str, float | None]) -> list[GateResult]:
    out = []
    for g in gates:
        v = values.get(g.metric)
        status: GateStatus
        if v is None:
            status = "no_data"
        elif (g.max is not None and v > g.max) or (g.min is not None and v < g.min):
            status = "fail"
        else:
            status = "pass"
        advice = ADVICE.get(g.metric) if status == "fail" else None
        if status == "fail" and advice is None and g.metric.startswith("model."):
            advice = "the model is below its gate on live outcomes: the cycle retrains it and the rules stand in"
        note = no_data_note(g.metric) if status == "no_data" else None
        out.append(GateResult(g.name, g.metric, v, g.min, g.max, status, advice, note))
    return out

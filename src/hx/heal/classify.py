"""Incident classification: a Random Forest over incident features, with rules as the fallback.

The model (:class:`IncidentForest`) follows hx's persistence contract and lives in the model
registry under :data:`MODEL_NAME`.  :func:`classify` uses it when one is promoted and its top
probability reaches ``self_healing.classifier_confidence``; otherwise the rules
(:func:`classify_rules`) decide, and the answer says which did.

>>> from hx.heal.features import FEATURE_NAMES
>>> f = dict.fromkeys(FEATURE_NAMES, 0.0) | {"kw_disk": 1.0, "disk_utilization_post": 0.9}
>>> classify_rules(f)[0]
'disk_full'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hx.errors import BadInput, ModelError
from hx.heal.features import FEATURE_NAMES, MEMORY_BEYOND_LOAD, capacity_loss, cpu_excess, vector
from hx.ml.registry import ModelHandle

MODEL_NAME = "heal.incident_classifier"
CLASSES: tuple[str, ...] = (
    "memory_leak", "cpu_saturation", "latency_regression", "error_spike", "crash_loop", "disk_full",
    "dependency_failure", "traffic_surge", "node_failure", "unknown",
)  # fmt: skip
#: The sim's fault kinds and the incident class each one is.
FAULT_CLASS: dict[str, str] = {
    "memory_leak": "memory_leak", "cpu_hog": "cpu_saturation", "latency_regression": "latency_regression",
    "error_spike": "error_spike", "crash_loop": "crash_loop", "node_loss": "node_failure", "disk_fill": "disk_full",
    "dependency_failure": "dependency_failure", "traffic_surge": "traffic_surge",
}  # fmt: skip


@dataclass(frozen=True)
class Classification:
    incident_class: str
    confidence: float
    by: str  # "model" or "rules"
    reason: str
    probabilities: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _g(f: Mapping[str, float], k: str) -> float:
    return float(f.get(k, 0.0))


#: Memory growth per hour beyond what the load explains that the rules call a leak (memory filling in hours, about
#: what the MemoryGrowing rule warns of); the load removed, no margin for memory following it is needed.
LEAK_BEYOND_LOAD = 0.1
#: The plain memory slope per hour the rules call a leak when the load's part cannot be told (a margin for memory
#: following the load).
LEAK_SLOPE = 0.2
#: Share of capacity lost (replicas unchanged, no deployment) that, with CPU busy, the rules call a CPU hog.
CAPACITY_LOSS = 0.4


def memory_grows(f: Mapping[str, float]) -> bool:
    """Memory growing steadily: its growth beyond the load (:data:`~hx.heal.features.MEMORY_BEYOND_LOAD`) above
    :data:`LEAK_BEYOND_LOAD`, or, when the features do not carry it (older incidents, no load signal), the plain
    memory slope above :data:`LEAK_SLOPE`.

    >>> memory_grows({"memory_utilization_slope": 0.26, "memory_growth_beyond_load": 0.0})
    False
    >>> memory_grows({"memory_utilization_slope": 0.26})
    True
    """
    if MEMORY_BEYOND_LOAD in f:
        return _g(f, MEMORY_BEYOND_LOAD) > LEAK_BEYOND_LOAD
    return _g(f, "memory_utilization_slope") > LEAK_SLOPE


def load_explains_memory(f: Mapping[str, float]) -> bool:
    """The signals show the load explains the memory's growth: no evidence of a leak, near the limit or not (a
    restart frees nothing the load will not take again)."""
    return MEMORY_BEYOND_LOAD in f and not memory_grows(f)


def _rule_checks(f: Mapping[str, float]) -> list[tuple[str, float, str]]:
    """(class, confidence, why) for every rule that matches, strongest first."""
    out: list[tuple[str, float, str]] = []
    err_up = _g(f, "error_rate_post") > 0.05 and _g(f, "error_rate_rel") > 1.0
    lat_up = _g(f, "latency_p99_rel") > 1.0
    deployed = _g(f, "deploy_recent") > 0
    if _g(f, "kw_node") and _g(f, "kw_crash") == 0:
        out.append(("node_failure", 0.9, "a node alert"))
    if _g(f, "restarts_post") - _g(f, "restarts_pre") > 2 or _g(f, "kw_crash"):
        out.append(("crash_loop", 0.85, "replicas restarting"))
    if _g(f, "kw_disk") or _g(f, "disk_utilization_post") > 0.8 or _g(f, "disk_utilization_slope") > 0.3:
        out.append(("disk_full", 0.85, "disk filling"))
    if err_up and lat_up and not deployed and _g(f, "latency_p99_rel") > 2.0:
        out.append(("dependency_failure", 0.7, "errors and timeouts together, no recent deployment"))
    if err_up and deployed:
        out.append(("error_spike", 0.8, "errors rose after a deployment"))
    if lat_up and deployed:
        out.append(("latency_regression", 0.8, "latency rose after a deployment"))
    if _g(f, "request_rate_rel") > 1.5 and (_g(f, "saturation_post") > 0.6 or _g(f, "kw_traffic")):
        out.append(("traffic_surge", 0.75, "request rate and saturation up"))
    if _g(f, "cpu_utilization_post") > 0.5 and _g(f, "cpu_utilization_rel") > 1.0 and _g(f, "request_rate_rel") < 1.0:
        out.append(("cpu_saturation", 0.75, "CPU up without more requests"))
    elif _g(f, "cpu_utilization_post") > 0.5 and cpu_excess(f) > 0.25:
        out.append(("cpu_saturation", 0.75, "CPU well above what the served load explains"))
    elif _g(f, "cpu_utilization_post") > 0.5 and capacity_loss(f) > CAPACITY_LOSS and not deployed:
        out.append(("cpu_saturation", 0.7, "CPU busy while each replica serves far less than before (no deployment)"))
    # memory that follows the load also rises a little: a steady rise counts only with a memory alert, and only
    # the part of it the load does not explain (a leak grows with time; memory under a rising load is no leak);
    # memory near its limit counts unless the signals show the load explains its growth
    high = _g(f, "memory_utilization_post") > 0.8 and not load_explains_memory(f)
    if high or (memory_grows(f) and _g(f, "kw_memory")):
        out.append(("memory_leak", 0.8, "memory growing steadily"))
    if err_up:
        out.append(("error_spike", 0.55, "error rate up"))
    if lat_up:
        out.append(("latency_regression", 0.5, "latency up"))
    return out


def classify_rules(f: Mapping[str, float]) -> tuple[str, float, str]:
    """The rule-based class of a feature dict: (class, confidence, why); ``unknown`` when nothing matches."""
    checks = _rule_checks(f)
    if not checks:
        return "unknown", 0.0, "no rule matched"
    return checks[0]


class IncidentForest:
    """A Random Forest over :data:`FEATURE_NAMES` (scikit-learn), persistable through the model registry."""

    def __init__(self, n_estimators: int = 200, max_depth: int | None = 12, min_samples_leaf: int = 1,
                 random_state: int = 0) -> None:  # fmt: skip
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self._model: Any = None

    def get_config(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "max_depth": self.max_depth,
                "min_samples_leaf": self.min_samples_leaf, "random_state": self.random_state}  # fmt: skip

    def get_state(self) -> dict[str, Any]:
        return {"model": self._model, "features": list(FEATURE_NAMES)}

    def set_state(self, state: dict[str, Any]) -> None:
        if list(state.get("features", [])) != list(FEATURE_NAMES):
            raise ModelError("the saved incident classifier was trained on other features; retrain it")
        self._model = state["model"]

    def clone(self) -> IncidentForest:
        return IncidentForest(**self.get_config())

    @property
    def fitted(self) -> bool:
        return self._model is not None

    def fit(self, x: np.ndarray, y: Sequence[str]) -> IncidentForest:
        from sklearn.ensemble import RandomForestClassifier

        if x.ndim != 2 or x.shape[1] != len(FEATURE_NAMES) or len(y) != x.shape[0] or len(y) == 0:
            raise BadInput(f"x must be (n, {len(FEATURE_NAMES)}) with one label per row", field="x")
        unknown = sorted(set(y) - set(CLASSES))
        if unknown:
            raise BadInput(f"unknown incident classes {unknown}; valid: {', '.join(CLASSES)}", field="y")
        self._model = RandomForestClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
            random_state=self.random_state, n_jobs=1,
        ).fit(x, list(y))  # fmt: skip
        return self

    def predict_proba(self, feats: Mapping[str, float]) -> dict[str, float]:
        if self._model is None:
            raise ModelError("the incident classifier is not fitted")
        p = self._model.predict_proba(vector(feats).reshape(1, -1))[0]
        return {str(c): float(v) for c, v in zip(self._model.classes_, p, strict=True)}

    def predict(self, x: np.ndarray) -> list[str]:
        if self._model is None:
            raise ModelError("the incident classifier is not fitted")
        return [str(c) for c in self._model.predict(x)]


def classify(feats: Mapping[str, float], handle: ModelHandle | None, min_confidence: float) -> Classification:
    """The model's answer when it is in use and confident enough, else the rules' (saying why).

    A memory leak needs evidence independent of the load: when the load explains the memory growth
    (:func:`load_explains_memory`) the model's ``memory_leak`` is not taken, the rules decide."""
    rule_cls, rule_conf, why = classify_rules(feats)
    if handle is None or handle.in_use != "model" or not isinstance(handle.model, IncidentForest):
        reason = handle.reason if handle is not None else "no model handle"
        return Classification(rule_cls, rule_conf, "rules", f"{why} (model not used: {reason})", {})
    probs = handle.model.predict_proba(feats)
    best = max(probs, key=lambda c: probs[c])
    if probs[best] < min_confidence:
        return Classification(
            rule_cls, rule_conf, "rules",
            f"{why} (model confidence {probs[best]:.2f} for {best} below {min_confidence:.2f})", probs,
        )  # fmt: skip
    if best == "memory_leak" and load_explains_memory(feats):  # a leak restart needs growth the load does not explain
        return Classification(
            rule_cls, rule_conf, "rules",
            f"{why} (model said memory_leak, p={probs[best]:.2f}, but the load explains the memory growth)", probs,
        )  # fmt: skip
    return Classification(best, probs[best], "model", f"random forest, p={probs[best]:.2f}", probs)

"""The AI/ML dashboard: every model's versions and stages, live accuracy against the rules over time, shadow
comparisons, training data size and fingerprint, forecast bands against actuals, and detector scores.

Versions come from the model registry; accuracies from the optimisation cycles' reports (``improvement.cycle``
events); forecasts and actual demand from the scaler's decisions (``scaling.decided``); scores from the anomalies
raised (``anomaly.detected``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from hx.dashboard.window import Window, event_rows, latest_event_at
from hx.detect import effective_threshold
from hx.events import EventType

if TYPE_CHECKING:
    from hx.platform import Platform


def models(platform: Platform) -> list[dict[str, Any]]:
    """Every model in the registry with its versions (stage, training data, fingerprint, metrics)."""
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in platform.models.versions():
        by_name[v.name].append(
            {
                "version": v.version,
                "stage": v.stage,
                "kind": v.kind,
                "created_at": v.created_at.isoformat(),
                "training_data": v.training_data,
                "fingerprint": v.fingerprint,
                "metrics": dict(v.metrics),
            }
        )
    in_use = {n: h.health() for n, h in platform.model_handles.items()}
    return [{"model": n, "versions": vs, "in_use": in_use.get(n)} for n, vs in sorted(by_name.items())]


def accuracy(platform: Platform, window: Window) -> dict[str, dict[str, list[Any]]]:
    """Model -> its live accuracy, the rules' accuracy and the shadow comparison at each cycle of the window."""
    out: dict[str, dict[str, list[Any]]] = {}
    for r in event_rows(platform, (EventType.IMPROVEMENT_CYCLE.value,), window, cap=500):
        for m in r["data"].get("models", []):
            s = out.setdefault(m["model"], defaultdict(list))
            live, shadow = m.get("live") or {}, m.get("shadow_eval") or {}
            s["t"].append(r["ts"])
            s["examples"].append(m.get("examples"))
            s["live_accuracy"].append(live.get("accuracy"))
            s["rules_accuracy"].append(live.get("rules_accuracy"))
            s["live_n"].append(live.get("n"))
            s["shadow_accuracy"].append(shadow.get("shadow_accuracy"))
            s["incumbent_accuracy"].append(shadow.get("incumbent_accuracy"))
            s["actions"].append("; ".join(m.get("actions", [])))
    return {k: dict(v) for k, v in out.items()}


def forecasts(platform: Platform, window: Window) -> dict[str, dict[str, list[Any]]]:
    """Service -> demand seen at each scaler decision, and the forecast then made for the window ahead."""
    out: dict[str, dict[str, list[Any]]] = {}
    for r in event_rows(platform, (EventType.SCALING_DECIDED.value,), window):
        d, f = r["data"], r["data"].get("forecast") or {}
        s = out.setdefault(r["subject"], defaultdict(list))
        s["t"].append(d.get("at") or r["ts"])
        s["demand"].append(d.get("demand"))
        s["forecast_from"].append(f.get("from"))
        s["mean_max"].append(f.get("mean_max"))
        s["upper_max"].append(f.get("upper_max"))
        s["model"].append(f.get("model"))
    return {k: dict(v) for k, v in out.items()}


def scores(platform: Platform, window: Window) -> dict[str, Any]:
    """The scores of the anomalies raised in the window (overall and per detector part), and the threshold."""
    cfg = platform.settings.intelligent_monitoring.anomaly_detection
    raised, parts = [], defaultdict(list)
    for r in event_rows(platform, (EventType.ANOMALY_DETECTED.value,), window):
        raised.append(r["data"].get("score"))
        for name, value in (r["data"].get("components") or {}).items():
            parts[name].append(value)
    return {
        "threshold": effective_threshold(cfg.alert_threshold, cfg.sensitivity),
        "detector": cfg.detector,
        "raised": raised,
        "components": dict(parts),
    }


def aiml(platform: Platform, window: Window) -> dict[str, Any]:
    """Everything the AI/ML page draws."""
    return {
        "window": window.to_json(),
        "latest_event_at": latest_event_at(platform),
        "models": models(platform),
        "accuracy": accuracy(platform, window),
        "forecasts": forecasts(platform, window),
        "scores": scores(platform, window),
    }

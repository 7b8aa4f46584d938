"""The operations dashboard: one service's signals with everything that touched it, rollouts in progress, open
incidents with their timelines, the anomalies of the window with their labels, and the quiet rules in force or to
come.

Signals come from the platform's signal source; the marks drawn on them are the events recorded for the service
(deploy steps, canary verdicts, anomalies, incidents, remediation, scaling).  A source that has no data for the
window (a window older than its history) is reported as such: the marks are still drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hx.dashboard.quiet import labels_of, quiet_rules, refusals
from hx.dashboard.window import Window, event_rows, latest_event_at
from hx.deploy.records import DeploymentRepo
from hx.detect.engine import list_anomalies
from hx.errors import HxError
from hx.heal.records import IncidentRepo
from hx.store.tables import DEPLOYMENT_ACTIVE, INCIDENT_OPEN

if TYPE_CHECKING:
    from hx.platform import Platform

#: the signals drawn per service, when the detector watches them
CHART_SIGNALS = ("request_rate", "error_rate", "latency_p95", "cpu_utilization")


def _d(data: Mapping[str, Any], *keys: str) -> str:
    return " ".join(f"{k}={data[k]}" for k in keys if data.get(k) not in (None, ""))


#: event type -> (kind of mark, its label from the payload)
MARKS: dict[str, tuple[str, Callable[[Mapping[str, Any]], str]]] = {
    "deployment.requested": ("deploy", lambda d: f"rollout #{d.get('deployment')} of {d.get('version')} requested"),
    "deployment.step": ("deploy", lambda d: f"step {d.get('index')}: {_d(d.get('step') or {}, 'kind', 'percent')}"),
    "deployment.analysis": ("verdict", lambda d: f"canary {d.get('status')} (score {d.get('score')})"),
    "deployment.awaiting_approval": ("deploy", lambda d: f"awaiting approval: {d.get('reason')}"),
    "deployment.approved": ("deploy", lambda d: f"approved by {d.get('by')}"),
    "deployment.paused": ("deploy", lambda d: f"paused {_d(d, 'by', 'reason')}"),
    "deployment.promoted": ("deploy", lambda d: f"{d.get('version')} promoted"),
    "deployment.rolled_back": ("deploy", lambda d: f"rolled back: {d.get('reason')}"),
    "deployment.aborted": ("deploy", lambda d: f"aborted: {d.get('reason')}"),
    "deployment.failed": ("deploy", lambda d: f"failed: {d.get('error')}"),
    "anomaly.detected": ("anomaly", lambda d: f"anomaly {d.get('signal')} score {d.get('score')}"),
    "anomaly.resolved": ("anomaly", lambda d: f"anomaly {d.get('signal')} resolved"),
    "incident.opened": ("incident", lambda d: f"incident #{d.get('incident')} opened ({d.get('alert')})"),
    "incident.escalated": ("incident", lambda d: f"incident #{d.get('incident')} escalated"),
    "incident.resolved": ("incident", lambda d: f"incident #{d.get('incident')} resolved by {d.get('by')}"),
    "incident.action": ("remediation", lambda d: f"{d.get('runbook')}: {_d(d, 'action', 'status')}"),
    "scaling.acted": ("scaling", lambda d: f"scaled {d.get('before')} -> {d.get('after')}"),
    "scaling.decided": (
        "scaling",
        lambda d: f"scale {d.get('current_replicas')} -> {d.get('replicas')} ({d.get('mode')})",
    ),
}


def _changes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every recorded event of a kind above; of the scaler's decisions only those that change the count it asks
    for (it decides every minute; a held or repeated recommendation is no new mark)."""
    out, last = [], None
    for r in rows:
        if r["type"] == "scaling.decided":
            d = r["data"]
            ask = (d.get("current_replicas"), d.get("replicas"))
            if ask[0] == ask[1] or ask == last:
                continue
            last = ask
        out.append(r)
    return out


def marks(platform: Platform, service: str, window: Window) -> list[dict[str, Any]]:
    rows = event_rows(platform, MARKS, window, subject=service)
    out = []
    for r in _changes(rows):
        kind, label = MARKS[r["type"]]
        out.append({"ts": r["ts"], "type": r["type"], "kind": kind, "label": label(r["data"]), "id": r["id"]})
    return out


def _clean(values: Any) -> list[float | None]:
    return [None if not math.isfinite(float(v)) else round(float(v), 6) for v in values]


def signals(platform: Platform, service: str, window: Window) -> tuple[list[dict[str, Any]], list[str]]:
    """The service's charted signals from the source over the window, and a note for each it could not give."""
    source = platform.source
    if source is None:
        return [], ["this component has no signal source (telemetry.source)"]
    watched = platform.settings.intelligent_monitoring.anomaly_detection.signals
    out, notes = [], []
    step = window.step_s()
    for name in [s for s in CHART_SIGNALS if s in watched] or watched[:4]:
        try:
            s = source.signal(service, name, window.since, window.until, step)
        except HxError as err:
            notes.append(f"{name}: {err}")
            continue
        values = _clean(s.values)
        if all(v is None for v in values):
            notes.append(f"{name}: the source has no data for this window")
            continue
        out.append({"name": name, "t": [float(t) for t in s.timestamps], "values": values})
    return out, notes


def services(platform: Platform) -> list[str]:
    """The source's services, else those the store knows from rollouts and incidents."""
    if platform.source is not None:
        try:
            return sorted(platform.source.services())
        except HxError:
            pass
    found = {d.service for d in DeploymentRepo(platform.store).list(limit=500)}
    found |= {i.service for i in IncidentRepo(platform.store).list(limit=500)}
    return sorted(found)


def rollouts(platform: Platform) -> list[dict[str, Any]]:
    """Rollouts in progress (whatever their start), each with its step log and verdicts."""
    repo = DeploymentRepo(platform.store)
    return [{**d.to_json(), "steps": repo.steps(d.id)} for d in repo.list(states=tuple(DEPLOYMENT_ACTIVE), limit=50)]


def incidents(platform: Platform) -> list[dict[str, Any]]:
    """Open and acknowledged incidents (whatever their start), each with its timeline."""
    repo = IncidentRepo(platform.store)
    return [{**i.to_json(), "timeline": repo.timeline(i.id)} for i in repo.list(status=INCIDENT_OPEN, limit=50)]


def anomalies(platform: Platform, service: str | None, window: Window) -> list[dict[str, Any]]:
    """The service's anomalies in the window, each with the label people gave it (``label``: None when none)."""
    found = list_anomalies(platform, service, since=window.since, until=window.until, limit=200)
    labels = labels_of(platform, (str(a["anomaly_id"]) for a in found))
    return [{**a, "label": labels.get(str(a["anomaly_id"]))} for a in found]


def operations(platform: Platform, window: Window, service: str | None) -> dict[str, Any]:
    """Everything the operations page draws, for one service (default: the first one)."""
    names = services(platform)
    chosen = service or (names[0] if names else None)
    series, notes = signals(platform, chosen, window) if chosen else ([], [])
    return {
        "window": window.to_json(),
        "latest_event_at": latest_event_at(platform),
        "services": names,
        "service": chosen,
        "signals": series,
        "signal_notes": notes,
        "marks": marks(platform, chosen, window) if chosen else [],
        "anomalies": anomalies(platform, chosen, window),
        "rollouts": rollouts(platform),
        "incidents": incidents(platform),
        "quiet": quiet_rules(platform),
        "refusals": refusals(platform),
    }
